"""`--web.listen-address :PORT` serves IPv4 and IPv6; `[::1]:PORT` serves IPv6."""

from __future__ import annotations

import errno
import http.client
import socket
import sys
from pathlib import Path

import pytest
from cachescope.web import server
from servers import Process, free_port, wait_for


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


pytestmark = pytest.mark.live
needs_ipv6 = pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback")


def health(host: str, port: int) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", "/-/healthy")
        return conn.getresponse().status
    finally:
        conn.close()


def serve(address: str, port: int, tmp_path: Path, probe: str) -> Process:
    """An exporter listening on `address`, once `probe` (a host) gets its health answer."""
    command = [sys.executable, "-m", "cachescope", "serve", "--target", "redis://127.0.0.1:1"]
    exporter = Process([*command, "--web.listen-address", address], tmp_path, "exporter")
    wait_for(lambda: health(probe, port) == 200, what=f"exporter on {address}: {exporter.log()}")
    return exporter


@needs_ipv6
def test_an_empty_host_listens_on_ipv4_and_ipv6_at_once(tmp_path: Path) -> None:
    port = free_port()
    exporter = serve(f":{port}", port, tmp_path, "127.0.0.1")
    try:
        assert health("127.0.0.1", port) == 200
        assert health("::1", port) == 200
    finally:
        exporter.stop()


@needs_ipv6
def test_a_bracketed_ipv6_address_listens_there_only(tmp_path: Path) -> None:
    port = free_port()
    exporter = serve(f"[::1]:{port}", port, tmp_path, "::1")
    try:
        assert health("::1", port) == 200
        with pytest.raises(OSError):
            health("127.0.0.1", port)
    finally:
        exporter.stop()


def test_an_empty_host_falls_back_to_ipv4_without_ipv6(monkeypatch: pytest.MonkeyPatch) -> None:
    real = server._bound

    def no_ipv6(family: int, address: tuple[str, int], dual: bool = False) -> socket.socket:
        if family == socket.AF_INET6:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
        return real(family, address, dual)

    monkeypatch.setattr(server, "_bound", no_ipv6)
    with server.listen(("", 0)) as listener:
        assert listener.family == socket.AF_INET
        with socket.create_connection(("127.0.0.1", listener.getsockname()[1]), timeout=5):
            pass
