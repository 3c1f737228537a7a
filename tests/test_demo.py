"""`cachescope demo`, the README's run command: the whole stack comes up, an alert arrives
at the printing webhook, and Ctrl-C leaves no process, port or temporary file behind."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import yaml
from cachescope.demo import configs
from cachescope.demo.processes import choose_port
from cachescope.rules import render, thresholds
from servers import ROOT, Exposition

PORT_FLAGS = ("redis", "replica", "memcached", "exporter", "prometheus", "alertmanager", "webhook")
_URL_LINE = re.compile(r"^  (\w[\w ]*?)\s{2,}(\S+://\S+)$")


class Demo:
    """`python -m cachescope demo` as a child, its output collected line by line."""

    def __init__(self, *args: str) -> None:
        command = [sys.executable, "-m", "cachescope", "demo", *args]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, pattern: str, timeout: float) -> str:
        """The first line (from now on) matching `pattern`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.output.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r}; output:\n" + "\n".join(self.output))

    def urls(self) -> dict[str, str]:
        found = (_URL_LINE.match(line) for line in self.output)
        return {match.group(1): match.group(2) for match in found if match}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return str(reply.read().decode())


def children(pid: int) -> set[int]:
    """Processes whose parent is `pid`, from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def port_free(port: int) -> bool:
    """Nothing listens (connections of the run just ended may linger in TIME_WAIT)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_demo_comes_up_fires_an_alert_and_ctrl_c_stops_everything() -> None:
    demo = Demo(*(f"--{name}-port=0" for name in PORT_FLAGS), "--break=memory", "--break-after=1")
    try:
        workdir = demo.wait_for_line(r"^demo: starting in ", 10).split()[3]
        demo.wait_for_line(r"^demo: ready", 90)
        urls = demo.urls()
        exporter = urls["cachescope"].rstrip("/")
        prometheus = urls["alerts"].removesuffix("/alerts")

        metrics = Exposition(get(f"{exporter}/metrics"))
        assert metrics.value("redis_up", instance="redis-primary") == 1
        assert metrics.value("redis_up", instance="redis-replica") == 1
        assert metrics.value("memcached_up", instance="memcached") == 1
        loaded = json.loads(get(f"{prometheus}/api/v1/rules"))["data"]["groups"]
        names = {rule["name"] for group in loaded for rule in group["rules"]}
        assert set(render.alerts()) <= names

        # --break memory: the primary refuses writes, and the notification is printed.
        line = demo.wait_for_line(r"FIRING\s+RedisOutOfMemoryErrors", 60)
        assert "severity=critical instance=redis-primary: Redis refuses commands" in line

        pids = children(demo.proc.pid)
        assert len(pids) == 6, (
            pids
        )  # two redis-server, memcached, alertmanager, cachescope, prometheus
        ports = [int(url.rsplit(":", 1)[1].split("/")[0]) for url in urls.values()]
        demo.proc.send_signal(signal.SIGINT)
        assert demo.proc.wait(30) == 0
        demo.wait_for_line(r"every process stopped", 5)
        assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
        assert [port for port in set(ports) if not port_free(port)] == []
        assert not Path(workdir).exists()
    finally:
        demo.stop()


def test_demo_sigterm_stops_everything_too() -> None:
    demo = Demo(*(f"--{name}-port=0" for name in PORT_FLAGS))
    try:
        demo.wait_for_line(r"^demo: ready", 90)
        pids = children(demo.proc.pid)
        demo.proc.terminate()
        assert demo.proc.wait(30) == 0
        assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
    finally:
        demo.stop()


def test_demo_without_the_servers_names_the_debian_packages(tmp_path: Path) -> None:
    env = dict(os.environ, PATH=str(tmp_path))  # nothing to find
    result = subprocess.run(
        [sys.executable, "-m", "cachescope", "demo"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert (
        "sudo apt-get install redis-server memcached prometheus prometheus-alertmanager"
        in result.stderr
    )


def test_demo_busy_port_is_replaced_by_a_free_one() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken: set[int] = set()
        port = busy.getsockname()[1]
        chosen = choose_port(port, taken)
        assert chosen != port and taken == {chosen}
        assert choose_port(chosen, taken) != chosen  # never the same port twice


def test_demo_inhibits_like_the_deploy_alertmanager_example() -> None:
    example = yaml.safe_load((ROOT / "deploy/alertmanager/alertmanager.yml").read_text())
    assert example["inhibit_rules"] == configs.INHIBIT_RULES


def test_demo_rules_are_the_render_of_the_thresholds(tmp_path: Path) -> None:
    written = configs.write_rules(tmp_path, None)
    assert {path.name for path in written} == set(render.FILES)
    rendered = render.render(thresholds.load())
    for path in written:
        assert yaml.safe_load(path.read_text()) == rendered[path.name]


def test_demo_thresholds_override_reaches_the_rules(tmp_path: Path) -> None:
    override = tmp_path / "mine.yml"
    override.write_text("alerts:\n  RedisRestarted: {enabled: false}\n  RedisDown: {for: 10s}\n")
    (tmp_path / "rules").mkdir()
    configs.write_rules(tmp_path / "rules", str(override))
    rules = [
        rule
        for group in yaml.safe_load((tmp_path / "rules/redis.rules.yml").read_text())["groups"]
        for rule in group["rules"]
    ]
    assert "RedisRestarted" not in {rule.get("alert") for rule in rules}
    (down,) = [rule for rule in rules if rule.get("alert") == "RedisDown"]
    assert down["for"] == "10s"


def test_demo_with_a_wrong_thresholds_file_says_where_and_starts_nothing(tmp_path: Path) -> None:
    override = tmp_path / "mine.yml"
    override.write_text("alerts:\n  RedisDown: {for: soon}\n")
    ports = [f"--{name}-port=0" for name in PORT_FLAGS]
    result = subprocess.run(
        [sys.executable, "-m", "cachescope", "demo", *ports, f"--thresholds={override}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert f"demo: thresholds: {override}:2" in result.stderr, result.stderr
    workdir = result.stdout.split()[3]  # "demo: starting in DIR (removed on exit)"
    assert not Path(workdir).exists()
