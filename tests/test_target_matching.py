"""Issue 16: hostile /scrape targets cannot fool an allow pattern into handing out its password.

Each test runs a real exporter whose allow pattern carries a password, and a
trap (a recording TCP or Unix socket) that a fooled matcher would connect to.
The trap must see no connection and no AUTH; the password must show nowhere.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import hostile
import pytest
from hostile import HostileServer
from servers import Exporter, StartExporter

PASSWORD = "match-Secret-pw-4417"  # distinctive: a leak anywhere is found by substring


class UnixRecorder:
    """A Unix socket that records every byte it receives and never answers."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(4)
        self.sock.settimeout(0.05)
        self.received = bytearray()
        self.connections = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.settimeout(0.5)
            try:
                while data := conn.recv(4096):
                    self.received += data
            except OSError:
                pass
            conn.close()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def trap() -> Iterator[HostileServer]:
    server = HostileServer(hostile.never_answers)
    yield server
    server.stop()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cachescope", *args], capture_output=True, text=True, timeout=20
    )


def exporter_with_rule(start_exporter: StartExporter, tmp_path: Path, pattern: str) -> Exporter:
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f'scrape:\n  allow:\n    - pattern: "{pattern}"\n      password: {PASSWORD}\n'
    )
    return start_exporter("--config.file", str(config), "--timeout", "1s")


def scrape(exporter: Exporter, target: str) -> tuple[int, str]:
    return exporter.get("/scrape?target=" + quote(target, safe=""), timeout=10)


def assert_no_secret(exporter: Exporter, *bodies: str) -> None:
    for text in [*bodies, exporter.get("/")[1], exporter.log()]:
        assert PASSWORD not in text


def test_nul_in_a_host_name_does_not_reach_the_address_before_it(
    start_exporter: StartExporter, tmp_path: Path, trap: HostileServer
) -> None:
    exporter = exporter_with_rule(start_exporter, tmp_path, "redis://*.cache.internal:*")
    bodies = []
    for host in ("127.0.0.1\x00.cache.internal", "127.0.0.1\x00x.cache.internal"):
        status, body = scrape(exporter, f"redis://{host}:{trap.port}")
        assert status == 400, body
        bodies.append(body)
    assert trap.connections == 0
    assert PASSWORD.encode() not in trap.received
    assert_no_secret(exporter, *bodies)


def test_dotted_ip_glob_is_refused_with_a_cidr_hint(tmp_path: Path) -> None:
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f'scrape:\n  allow:\n    - pattern: "redis://10.0.0.*:*"\n      password: {PASSWORD}\n'
    )
    result = run_cli("config", "check", str(config))
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "10.0.0.0/24" in out
    assert "scrape.allow[0].pattern" in out and ":3:" in out
    assert PASSWORD not in out


@pytest.fixture
def socket_dir(tmp_path: Path) -> Path:
    # Unix socket paths are short (108 bytes); pytest's tmp_path can be longer.
    base = Path("/tmp") / f"cs-{os.getpid()}-{abs(hash(tmp_path)) % 10**6}"
    (base / "allowed").mkdir(parents=True)
    (base / "other").mkdir()
    return base


def test_dot_dot_and_symlinks_do_not_leave_the_allowed_socket_directory(
    start_exporter: StartExporter, tmp_path: Path, socket_dir: Path
) -> None:
    recorder = UnixRecorder(socket_dir / "other" / "evil.sock")
    (socket_dir / "allowed" / "link.sock").symlink_to(socket_dir / "other" / "evil.sock")
    (socket_dir / "allowed" / "up").symlink_to(socket_dir / "other")
    try:
        exporter = exporter_with_rule(
            start_exporter, tmp_path, f"unix://{socket_dir}/allowed/*.sock"
        )
        bodies = []
        for path in (
            f"{socket_dir}/allowed/../other/evil.sock",
            f"{socket_dir}/allowed/./../other/evil.sock",
            f"{socket_dir}//allowed/../other/evil.sock",
            f"{socket_dir}/allowed/link.sock",
            f"{socket_dir}/allowed/up/evil.sock",
        ):
            status, body = scrape(exporter, f"unix://{path}")
            assert status == 400, (path, body)
            bodies.append(body)
        assert recorder.connections == 0
        assert PASSWORD.encode() not in recorder.received
        assert_no_secret(exporter, *bodies)
    finally:
        recorder.stop()


def test_a_socket_inside_the_allowed_directory_is_still_reached(
    start_exporter: StartExporter, tmp_path: Path, socket_dir: Path
) -> None:
    recorder = UnixRecorder(socket_dir / "allowed" / "good.sock")
    try:
        exporter = exporter_with_rule(
            start_exporter, tmp_path, f"unix://{socket_dir}/allowed/*.sock"
        )
        status, body = scrape(exporter, f"unix://{socket_dir}/allowed/good.sock")
        assert status == 200, body
        assert recorder.connections == 1  # the rule still works; and its password was sent
    finally:
        recorder.stop()


@pytest.mark.parametrize("password", ["hunter2/x", "hun#ter2", "hunter2?q", "a@b/hunter2"])
def test_a_password_with_uri_delimiters_never_shows_in_config_errors(
    tmp_path: Path, password: str
) -> None:
    config = tmp_path / "cachescope.yml"
    config.write_text(f'targets:\n  - uri: "redis://user:{password}@127.0.0.1:6379"\n')
    result = run_cli("config", "check", str(config))
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "targets[0].uri" in out
    assert "percent-encode" in out
    for part in password.replace("/", " ").replace("#", " ").replace("?", " ").split():
        assert part not in out.replace("user", "")
    assert "Traceback" not in out


def test_reload_with_a_bad_uri_does_not_echo_the_password(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    config = tmp_path / "cachescope.yml"
    config.write_text("targets: []\n")
    exporter = start_exporter("--config.file", str(config))
    config.write_text('targets:\n  - uri: "redis://:hunter2/x@127.0.0.1:6379"\n')
    status, body = exporter.post("/-/reload")
    assert status != 200
    assert "hunter2" not in body
    assert "hunter2" not in exporter.log()


@pytest.mark.parametrize(
    "args",
    [
        ("analyze", "redis://:hunter2/x@127.0.0.1:1"),
        ("analyze", "redis://us3r:p#hunter2@127.0.0.1:1"),
        ("serve", "--web.listen-address", "127.0.0.1:0", "--target", "redis://:hunter2?@h:1"),
    ],
)
def test_a_bad_uri_on_the_command_line_is_refused_without_echoing_it(args: tuple[str, ...]) -> None:
    result = run_cli(*args)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "hunter2" not in out and "us3r" not in out
    assert "Traceback" not in out
