"""The demo's servers, started in dependency order and stopped in reverse."""

from __future__ import annotations

import sys
import urllib.parse
from pathlib import Path

import yaml

from cachescope.config.yamlmarks import ConfigError
from cachescope.demo import configs
from cachescope.demo.configs import Ports
from cachescope.demo.processes import Child, DemoError, answers, http_ok, is_root, wait_ready


class Stack:
    """redis primary and replica, memcached, alertmanager, cachescope and prometheus."""

    def __init__(self, binaries: dict[str, str], ports: Ports, workdir: Path) -> None:
        self.binaries = binaries
        self.ports = ports
        self.workdir = workdir
        self.children: list[Child] = []

    def start(self, thresholds: str | None) -> None:
        """Start everything, each ready before the next; a DemoError names what failed."""
        rule_dir = self.workdir / "rules"
        rule_dir.mkdir()
        try:
            configs.write_rules(rule_dir, thresholds)
        except ConfigError as exc:
            raise DemoError(f"thresholds: {exc}") from None
        self._redis("redis-primary", self.ports.redis)
        self._redis(
            "redis-replica", self.ports.replica, "--replicaof", "127.0.0.1", str(self.ports.redis)
        )
        self._memcached()
        self._alertmanager()
        self._cachescope()
        self._prometheus(rule_dir)

    def stop(self) -> None:
        """Stop every child, the last started first (Prometheus before what it scrapes)."""
        for child in reversed(self.children):
            child.stop()

    def stop_primary(self) -> None:
        self.children[0].stop()

    def exited(self) -> list[Child]:
        """Children that ended without being asked to."""
        return [child for child in self.children if not child.stopped and not child.running()]

    def _start(self, name: str, args: list[str]) -> Child:
        child = Child(name, args, self.workdir)
        self.children.append(child)
        return child

    def _write(self, name: str, document: dict[str, object]) -> Path:
        path = self.workdir / name
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return path

    def _redis(self, name: str, port: int, *extra: str) -> None:
        data = self.workdir / name
        data.mkdir()
        args = [self.binaries["redis-server"], "--bind", "127.0.0.1", "--port", str(port)]
        args += ["--save", "", "--appendonly", "no", "--dir", str(data), "--daemonize", "no"]
        # No 5 s wait before a diskless full sync: the replica is in sync at once.
        args += ["--repl-diskless-sync-delay", "0", *extra]
        child = self._start(name, args)
        wait_ready(child, lambda: answers(port, b"PING\r\n", b"+PONG"))

    def _memcached(self) -> None:
        port = self.ports.memcached
        args = [self.binaries["memcached"], "-l", "127.0.0.1", "-p", str(port), "-U", "0"]
        args += ["-m", "64"] + (["-u", "root"] if is_root() else [])  # it refuses root otherwise
        child = self._start("memcached", args)
        wait_ready(child, lambda: answers(port, b"version\r\n", b"VERSION"))

    def _alertmanager(self) -> None:
        port = self.ports.alertmanager
        config = self._write("alertmanager.yml", configs.alertmanager_config(self.ports))
        args = [
            self.binaries["alertmanager"],
            f"--config.file={config}",
            f"--storage.path={self.workdir / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port: a single instance on loopback only
        ]
        child = self._start("alertmanager", args)
        wait_ready(child, lambda: http_ok(f"http://127.0.0.1:{port}/-/ready"))

    def _cachescope(self) -> None:
        port = self.ports.exporter
        config = self._write("cachescope.yml", configs.cachescope_config(self.ports))
        args = [sys.executable, "-m", "cachescope", "serve", f"--config.file={config}"]
        args += [f"--web.listen-address=127.0.0.1:{port}"]
        child = self._start("cachescope", args)
        wait_ready(child, lambda: http_ok(f"http://127.0.0.1:{port}/-/ready"))

    def _prometheus(self, rule_dir: Path) -> None:
        port = self.ports.prometheus
        config = self._write("prometheus.yml", configs.prometheus_config(self.ports, rule_dir))
        args = [
            self.binaries["prometheus"],
            f"--config.file={config}",
            f"--storage.tsdb.path={self.workdir / 'prometheus'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        child = self._start("prometheus", args)
        wait_ready(child, lambda: http_ok(f"http://127.0.0.1:{port}/-/ready"), timeout=60)


def urls(ports: Ports) -> list[tuple[str, str]]:
    """(what, where) for the banner."""
    query = urllib.parse.quote("redis_up or memcached_up")
    return [
        ("redis primary", f"redis://127.0.0.1:{ports.redis}"),
        ("redis replica", f"redis://127.0.0.1:{ports.replica}"),
        ("memcached", f"memcached://127.0.0.1:{ports.memcached}"),
        ("cachescope", f"http://127.0.0.1:{ports.exporter}/"),
        ("metrics", f"http://127.0.0.1:{ports.exporter}/metrics"),
        ("prometheus", f"http://127.0.0.1:{ports.prometheus}/graph?g0.expr={query}"),
        ("alerts", f"http://127.0.0.1:{ports.prometheus}/alerts"),
        ("alertmanager", f"http://127.0.0.1:{ports.alertmanager}/"),
        ("webhook", f"http://127.0.0.1:{ports.receiver}/"),
    ]
