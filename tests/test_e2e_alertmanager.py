"""From a broken cache to a notification: real Redis and Memcached, cachescope, Prometheus
with the rules, and Alertmanager with deploy/alertmanager/alertmanager.yml (its webhooks
pointed at a receiver in this test).

The Redis is stopped and the 2 MB Memcached filled until it evicts and misses. The
receiver must get RedisDown on the on-call route and the Memcached warnings on the team
route, each with its summary, description, severity and runbook_url, and must not get the
scrape-error warning about the stopped Redis: RedisDown inhibits it.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from cachescope.rules import thresholds
from cachescope.rules.render import render_documents
from pymemcache.client.base import Client as MemcacheClient
from servers import (
    ROOT,
    MemcachedServer,
    Process,
    StartExporter,
    StartRedis,
    free_port,
    require_binary,
    wait_for,
)
from test_rules_live import live_thresholds

Notification = tuple[str, dict[str, Any]]  # (receiver path, one alert of the payload)


class Receiver:
    """The webhook end of Alertmanager: records every alert of every notification."""

    def __init__(self) -> None:
        self.received: list[Notification] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.extend((self.path.strip("/"), alert) for alert in payload["alerts"])
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def firing(self) -> set[tuple[str, str, str, str]]:
        """(receiver, alertname, severity, instance) of every firing alert notified."""
        return {
            (path, a["labels"]["alertname"], a["labels"]["severity"], a["labels"]["instance"])
            for path, a in list(self.received)
            if a["status"] == "firing"
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Service(Process):
    """A Prometheus-family server on a free loopback port, ready when /-/ready says so."""

    def __init__(self, name: str, args: list[str], workdir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__([*args, f"--web.listen-address=127.0.0.1:{self.port}"], workdir, name)
        wait_for(lambda: self.get("/-/ready") is not None, 30, f"{name}: {self.log()}")

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=5) as reply:
            body = reply.read().decode()
        return json.loads(body) if path.startswith("/api/") else body


def alertmanager_config(receiver: Receiver) -> dict[str, Any]:
    """The example config, notifying within a second, its receivers pointed at the test."""
    config = yaml.safe_load((ROOT / "deploy/alertmanager/alertmanager.yml").read_text())
    config["route"].update(group_wait="1s", group_interval="1s")
    for entry in config["receivers"]:
        for webhook in entry["webhook_configs"]:
            webhook["url"] = f"{receiver.url}/{entry['name']}"
    return config


def start_alertmanager(workdir: Path, receiver: Receiver) -> Service:
    (workdir / "alertmanager.yml").write_text(yaml.safe_dump(alertmanager_config(receiver)))
    return Service(
        "alertmanager",
        [
            require_binary("prometheus-alertmanager"),
            f"--config.file={workdir / 'alertmanager.yml'}",
            f"--storage.path={workdir / 'alertmanager'}",
            "--cluster.listen-address=",
        ],
        workdir,
    )


def start_prometheus(workdir: Path, exporter_port: int, alertmanager: Service) -> Service:
    rule_dir = workdir / "rules"
    rule_dir.mkdir()
    values = thresholds.load(live_thresholds(workdir / "thresholds.yml"))
    for name, text in render_documents(values, "prometheus").items():
        (rule_dir / name).write_text(text)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rule_dir / "*.rules.yml")],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager.port}"]}]}]
        },
        "scrape_configs": [
            {
                "job_name": "cachescope",
                "honor_labels": True,
                "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
            }
        ],
    }
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    return Service(
        "prometheus",
        [
            require_binary("prometheus"),
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
        ],
        workdir,
    )


def test_stopped_redis_and_full_memcached_reach_the_receiver_with_inhibition(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    background_jobs: list[Callable[[], object]],
    tmp_path: Path,
) -> None:
    redis = start_redis()
    memcached = MemcachedServer("-m", "2")
    receiver = Receiver()
    services: list[Process] = []
    try:
        exporter = start_exporter(
            f"--target={redis.uri}", f"--target={memcached.uri}", "--timeout=1s"
        )
        assert exporter.metrics().value("redis_up") == 1
        redis.stop()
        cache = MemcacheClient(("127.0.0.1", memcached.port), timeout=2, no_delay=True)
        counter = iter(range(10**9))
        background_jobs.append(
            lambda: [cache.set(f"k{next(counter)}", b"x" * 1000) for _ in range(200)]
        )
        # A few of the items are read once: evicting items in use is what the early-eviction
        # alert catches (never-read items leaving a full cache are no harm).
        background_jobs.append(lambda: [cache.get(f"k{next(counter) - 50}") for _ in range(5)])
        background_jobs.append(lambda: [cache.get(f"gone{next(counter)}") for _ in range(20)])

        alertmanager = start_alertmanager(tmp_path, receiver)
        services.append(alertmanager)
        services.append(start_prometheus(tmp_path, exporter.port, alertmanager))
        redis_name, memcached_name = f"127.0.0.1:{redis.port}", f"127.0.0.1:{memcached.port}"
        expected = {
            ("cache-oncall", "RedisDown", "critical", redis_name),
            ("cache-team", "MemcachedItemsEvictedEarly", "warning", memcached_name),
            ("cache-team", "MemcachedEvictionsHigh", "warning", memcached_name),
            ("cache-team", "MemcachedHitRatioLow", "warning", memcached_name),
        }
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not expected <= receiver.firing():
            time.sleep(0.5)
        assert expected - receiver.firing() == set(), f"missing; got {receiver.firing()}"

        # The scrape-error warning fires in Prometheus, reaches Alertmanager, and stays there.
        def inhibited() -> list[dict[str, Any]]:
            alerts = alertmanager.get(
                "/api/v2/alerts?filter=alertname%3D%22CachescopeScrapeErrors%22"
            )
            return [a for a in alerts if a["labels"]["instance"] == redis_name]

        wait_for(lambda: inhibited(), 20, "CachescopeScrapeErrors in Alertmanager")
        (warning,) = inhibited()
        assert warning["status"]["state"] == "suppressed"
        assert warning["status"]["inhibitedBy"], warning
        time.sleep(3)  # several group intervals: anything else would have been sent by now
        assert receiver.firing() == expected

        runbooks = thresholds.load()["runbook_url"]
        for _, alert in receiver.received:
            name, notes = alert["labels"]["alertname"], alert["annotations"]
            assert notes["summary"] and notes["description"], alert
            assert alert["labels"]["instance"] in notes["description"], alert
            assert notes["runbook_url"] == f"{runbooks}#{name.lower()}"
            assert alert["labels"]["severity"] in ("critical", "warning")
    finally:
        for service in reversed(services):
            service.stop()
        receiver.stop()
        memcached.stop()
