"""`cachescope healthcheck` against real exporter processes: it finds where they listen."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import HostileServer, never_answers, speaks_http
from servers import Exporter, free_port, wait_for

pytestmark = pytest.mark.live


def healthcheck(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `cachescope healthcheck -v ARGS`, as the image's HEALTHCHECK does."""
    command = [sys.executable, "-m", "cachescope", "healthcheck", "-v", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=30, env=dict(os.environ, **(env or {}))
    )


class Serve:
    """`cachescope serve` started with exactly the given words, environment and directory."""

    def __init__(self, *args: str, env: dict[str, str], cwd: Path, port: int) -> None:
        self.log = open(cwd / "serve.log", "wb")  # noqa: SIM115 (open while the process runs)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cachescope", "serve", *args],
            env=dict(os.environ, **env),
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.port = port
        wait_for(self.listening, what=f"serve on {port}: {(cwd / 'serve.log').read_text()}")

    def listening(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)
        self.log.close()


@pytest.fixture
def start_serve(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    started: list[Serve] = []

    def start(*args: str, env: dict[str, str] | None = None, port: int) -> Serve:
        serve = Serve(*args, env=env or {}, cwd=tmp_path, port=port)
        started.append(serve)
        return serve

    yield start
    for serve in started:
        serve.stop()


def test_it_probes_the_listen_address_from_the_exporters_command_line() -> None:
    exporter = Exporter()
    try:
        result = healthcheck("--pid", str(exporter.proc.pid))
        assert result.returncode == 0, result.stderr
        assert f"http://127.0.0.1:{exporter.port}/-/healthy: HTTP 200" in result.stderr
    finally:
        exporter.stop()


def test_it_probes_the_listen_address_from_the_exporters_environment(start_serve) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    serve = start_serve(env={"CACHESCOPE_WEB_LISTEN_ADDRESS": f"127.0.0.1:{port}"}, port=port)
    result = healthcheck("--pid", str(serve.proc.pid))
    assert result.returncode == 0, result.stderr
    assert f":{port}/-/healthy: HTTP 200" in result.stderr


def test_a_peers_spelling_of_the_flag_is_followed_too(start_serve) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    # redis_exporter's single-dash flag, as a user switching in one line writes it.
    serve = start_serve("-web.listen-address", f"127.0.0.1:{port}", port=port)
    result = healthcheck("--pid", str(serve.proc.pid))
    assert result.returncode == 0, result.stderr


def test_a_wildcard_listen_address_is_probed_on_loopback(start_serve) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    serve = start_serve("--web.listen-address", f":{port}", port=port)
    result = healthcheck("--pid", str(serve.proc.pid))
    assert result.returncode == 0, result.stderr
    assert f"http://127.0.0.1:{port}/" in result.stderr


def test_tls_from_a_relative_web_config_is_spoken_without_verifying(  # type: ignore[no-untyped-def]
    start_serve, tls_certs: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    # Relative to the exporter's directory (tmp_path), not to the healthcheck's.
    (tmp_path / "web.yml").write_text(
        f"tls_server_config:\n  cert_file: {tls_certs['cert']}\n  key_file: {tls_certs['key']}\n"
    )
    serve = start_serve(
        "--web.listen-address", f"127.0.0.1:{port}", "--web.config.file", "web.yml", port=port
    )
    result = healthcheck("--pid", str(serve.proc.pid))
    assert result.returncode == 0, result.stderr
    assert f"https://127.0.0.1:{port}/-/healthy: HTTP 200" in result.stderr


def test_a_process_that_is_not_serve_falls_back_to_the_variables_and_defaults() -> None:
    exporter = Exporter()
    try:
        address = {"CACHESCOPE_WEB_LISTEN_ADDRESS": f"127.0.0.1:{exporter.port}"}
        assert healthcheck("--pid", str(os.getpid()), env=address).returncode == 0
        closed = {"CACHESCOPE_WEB_LISTEN_ADDRESS": f"127.0.0.1:{free_port()}"}
        result = healthcheck("--pid", str(os.getpid()), env=closed)
        assert result.returncode == 1
        assert "Connection refused" in result.stderr
    finally:
        exporter.stop()


def test_a_stopped_exporter_is_unhealthy_quietly() -> None:
    exporter = Exporter()
    pid, port = exporter.proc.pid, exporter.port
    exporter.stop()
    env = {"CACHESCOPE_WEB_LISTEN_ADDRESS": f"127.0.0.1:{port}"}
    result = subprocess.run(
        [sys.executable, "-m", "cachescope", "healthcheck", "--pid", str(pid)],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, **env),
    )
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "")


def test_an_answer_other_than_200_is_unhealthy() -> None:
    server = HostileServer(speaks_http)
    try:
        env = {"CACHESCOPE_WEB_LISTEN_ADDRESS": f"127.0.0.1:{server.port}"}
        result = healthcheck("--pid", str(os.getpid()), env=env)
        assert result.returncode == 1
        assert "HTTP" in result.stderr and "HTTP 200" not in result.stderr
    finally:
        server.stop()


def test_a_server_that_never_answers_is_unhealthy_after_the_timeout() -> None:
    server = HostileServer(never_answers)
    try:
        env = {"CACHESCOPE_WEB_LISTEN_ADDRESS": f"127.0.0.1:{server.port}"}
        result = healthcheck("--pid", str(os.getpid()), "--timeout", "500ms", env=env)
        assert result.returncode == 1
        assert "timed out" in result.stderr
    finally:
        server.stop()


def serve_tls(start_serve, tmp_path: Path, text: str) -> int:  # type: ignore[no-untyped-def]
    """Start serve with web config `text` in tmp_path/web.yml; its pid."""
    port = free_port()
    (tmp_path / "web.yml").write_text(text)
    serve = start_serve(
        "--web.listen-address", f"127.0.0.1:{port}", "--web.config.file", "web.yml", port=port
    )
    return int(serve.proc.pid)


def test_a_tls12_exporter_requiring_client_certificates_counts_as_alive(  # type: ignore[no-untyped-def]
    start_serve, tls_certs: dict[str, str], tmp_path: Path
) -> None:
    # TLS 1.2 has no "certificate required" alert: the server ends the handshake with
    # handshake_failure, which the probe offering every suite only gets for that.
    pid = serve_tls(
        start_serve,
        tmp_path,
        f"tls_server_config:\n  cert_file: {tls_certs['cert']}\n  key_file: {tls_certs['key']}\n"
        f"  max_version: TLS12\n  client_auth_type: RequireAndVerifyClientCert\n"
        f"  client_ca_file: {tls_certs['ca']}\n",
    )
    result = healthcheck("--pid", str(pid))
    assert result.returncode == 0, result.stderr
    assert "requires a client certificate" in result.stderr


def test_a_web_config_on_disk_that_no_longer_parses_is_not_read(  # type: ignore[no-untyped-def]
    start_serve, tls_certs: dict[str, str], tmp_path: Path
) -> None:
    pid = serve_tls(
        start_serve,
        tmp_path,
        f"tls_server_config:\n  cert_file: {tls_certs['cert']}\n  key_file: {tls_certs['key']}\n",
    )
    (tmp_path / "web.yml").write_text("tls_server_config: [this is not a web config\n")
    result = healthcheck("--pid", str(pid))
    assert result.returncode == 0, result.stderr
    assert "https://" in result.stderr and "HTTP 200" in result.stderr


def test_a_bad_timeout_is_said_even_without_verbose() -> None:
    command = [sys.executable, "-m", "cachescope", "healthcheck", "--timeout", "soon"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith("cachescope healthcheck: --timeout: ")
