"""Attacks on the HTTP front from outside, by a tester who saw only the README and the docs.

Each test is one attack on the real exporter (`python -m cachescope serve`) with a real
redis-server behind it. Attacks that broke a documented promise are marked xfail(strict)
with the reproduction in the reason; the rest pin behaviour the other front tests do not.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from httpclient import Reader, raise_open_file_limit, timed_get
from servers import Exporter, Exposition, RedisServer, wait_for

pytestmark = pytest.mark.live

READY = b"GET /-/ready HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture(scope="module")
def target() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def exporter(target: RedisServer) -> Iterator[Exporter]:
    raise_open_file_limit()
    started = Exporter("--target", target.uri, "--scrape.processes", "1")
    yield started
    started.stop()


def read_all(sock: socket.socket, quiet: float) -> bytes:
    """Everything the server sends until it closes or stays quiet for `quiet` seconds."""
    sock.settimeout(quiet)
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_content_length_beside_transfer_encoding_never_keeps_the_connection(
    exporter: Exporter,
) -> None:
    smuggled = b"%x\r\n%s\r\n0\r\n\r\n" % (len(READY), READY)
    attack = (
        b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + smuggled
    )
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as sock:
        sock.sendall(attack)
        reader = Reader(sock)
        reply = reader.reply()
        refused = 400 <= reply.status < 500
        assert refused or reply.headers.get("connection") == "close", reply
        sock.sendall(READY)  # a proxy's next request on the same connection
        assert read_all(sock, quiet=2) == b"", "the connection stayed open after CL + TE"


def test_clients_that_never_read_their_responses_do_not_delay_metrics(
    start_exporter,  # type: ignore[no-untyped-def]
    target: RedisServer,
) -> None:
    raise_open_file_limit()
    exporter = start_exporter("--target", target.uri, "--scrape.processes", "1")
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    attack = NonReaders(exporter.port, count=70, request=request)
    worst = 0.0
    try:
        # Until as many connections as there are request slots (64) have their send
        # buffers full (about 2 MiB here), no write blocks yet.
        wait_for(lambda: undelivered(exporter.port) >= 64, timeout=60, what="full send buffers")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and worst < 3:
            reply, took = timed_get(exporter.port, "/metrics", timeout=30)
            assert reply.status == 200
            assert Exposition(reply.body.decode()).get("redis_up") == [1.0]
            worst = max(worst, took)
            time.sleep(0.3)
        health, took = timed_get(exporter.port, "/-/healthy", timeout=30)
        assert health.status == 200 and took < 1.0
    finally:
        attack.close()
    assert worst < 2.0, f"/metrics took {worst:.2f}s beside clients that never read"


def undelivered(port: int, least: int = 3 << 19) -> int:
    """Connections of the server on `port` with `least` sent bytes waiting (/proc/net/tcp)."""
    count = 0
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            local, queues = fields[1], fields[4]
            if int(local.split(":")[1], 16) == port and int(queues.split(":")[0], 16) >= least:
                count += 1
    return count


class NonReaders:
    """`count` connections that each pipeline 300 copies of a request and never read."""

    def __init__(self, port: int, count: int, request: bytes) -> None:
        self.port, self.request = port, request
        self.stop = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            self.sockets.append(sock)
            try:
                sock.connect(("127.0.0.1", self.port))
                sock.sendall(self.request * 300)  # ~2 MiB of answers fill the buffers
                self.stop.wait()
            except OSError:
                pass
            finally:
                sock.close()

    def close(self) -> None:
        self.stop.set()
        for sock in list(self.sockets):  # wakes a thread blocked in sendall
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in self.threads:
            thread.join(timeout=5)


def test_a_connection_flood_never_closes_a_real_client_without_an_answer(
    start_exporter,  # type: ignore[no-untyped-def]
    target: RedisServer,
) -> None:
    raise_open_file_limit()
    exporter = start_exporter("--target", target.uri, "--web.max-connections", "64")
    flood = ConnectFlood(exporter.port, threads=8)
    outcomes: list[str] = []
    try:
        for _ in range(60):
            outcomes.append(real_client(exporter.port, rtt=0.05))
    finally:
        flood.close()
    assert outcomes.count("no answer") == 0, outcomes


def real_client(port: int, rtt: float) -> str:
    """A client `rtt` seconds away: 'ok', 'retry' (503 with Retry-After) or 'no answer'."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            time.sleep(rtt)  # its request arrives one network round trip after the connect
            sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = Reader(sock).reply()
    except (EOFError, OSError):
        return "no answer"
    if reply.status == 503 and int(reply.headers.get("retry-after", "0")) > 0:
        return "retry"
    assert (reply.status, reply.body) == (200, b"Healthy\n")
    return "ok"


class ConnectFlood:
    """Threads that each open connections as fast as they can, keep 100 and say nothing."""

    def __init__(self, port: int, threads: int) -> None:
        self.port = port
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        kept: list[socket.socket] = []
        while not self.stop.is_set():
            with contextlib.suppress(OSError):
                kept.append(socket.create_connection(("127.0.0.1", self.port), timeout=2))
            if len(kept) > 100:
                kept.pop(0).close()
        for sock in kept:
            sock.close()

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


def test_a_client_that_leaves_mid_scrape_never_has_its_answer_sent_to_the_next(
    exporter: Exporter, target: RedisServer
) -> None:
    """Descriptors are reused at once: an answer under way must not reach the newcomer."""
    slow = f"GET /scrape?target={target.uri} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    newcomers: list[socket.socket] = []
    target.pause()  # the scrape waits on the target while its client goes away
    try:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as gone:
                gone.sendall(slow)
                time.sleep(0.3)  # the request is read and its scrape under way
            time.sleep(0.2)  # the front has seen the close and freed the descriptor
            newcomers += [socket.create_connection(("127.0.0.1", exporter.port)) for _ in range(4)]
    finally:
        target.resume()
    time.sleep(1)  # the scrapes finish and their answers are written somewhere
    for sock in newcomers:
        with sock:
            assert read_all(sock, quiet=0.1) == b"", "a newcomer got an answer it never asked for"
            sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = Reader(sock).reply()
            assert (reply.status, reply.body) == (200, b"Healthy\n")
            assert read_all(sock, quiet=0.2) == b""


@pytest.mark.parametrize("method", [b"GET /-/healthy", b"POST /-/reload"])
@pytest.mark.parametrize("split", [None, 2], ids=["one-read", "split-body"])
def test_a_remembered_head_with_a_body_never_answers_the_body_as_a_request(
    exporter: Exporter, method: bytes, split: int | None
) -> None:
    """Heads are remembered by their bytes; the body that follows one is still a body."""
    head = method + b" HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(READY)
    expected = b"Healthy\n" if method.startswith(b"GET") else b"Reloaded\n"
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as sock:
        reader = Reader(sock)
        for _ in range(3):  # parsed once, then remembered
            sock.sendall(head)
            time.sleep(0.05)
            sock.sendall(READY)
            assert reader.reply().body == expected
        if split is None:
            sock.sendall(head + READY)
        else:
            sock.sendall(head + READY[:split])
            time.sleep(0.1)
            sock.sendall(READY[split:])
        assert reader.reply().body == expected
        assert read_all(sock, quiet=0.5) == b"", "the body was answered as a request"


def test_a_chunked_body_is_refused_without_buffering_it(exporter: Exporter) -> None:
    chunk = b"100000\r\n" + b"a" * 0x100000 + b"\r\n"  # 1 MiB chunks, 200 of them
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as sock:
        sock.sendall(b"POST /-/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        with contextlib.suppress(OSError):  # the front may stop reading and close
            for _ in range(200):
                sock.sendall(chunk)
            sock.sendall(b"0\r\n\r\n")
        reply = Reader(sock).reply()
    assert reply.status == 400 and reply.headers["connection"] == "close"
    assert b"Transfer-Encoding" in reply.body
    assert rss_mib(exporter.proc.pid) < 150


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def test_sigterm_beside_clients_that_never_read_exits_within_the_shutdown_timeout(
    start_exporter,  # type: ignore[no-untyped-def]
    target: RedisServer,
) -> None:
    raise_open_file_limit()
    exporter = start_exporter("--target", target.uri, "--web.shutdown-timeout", "2s")
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
    stuck = NonReaders(exporter.port, count=70, request=request)
    try:
        time.sleep(3)  # answers under way, some of them blocked on full buffers
        started = time.monotonic()
        exporter.proc.terminate()
        try:
            exporter.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("still running 15 s after SIGTERM; its log:\n" + exporter.log()[-3000:])
        took = time.monotonic() - started
    finally:
        stuck.close()
    assert took < 6, f"SIGTERM took {took:.1f}s with a 2 s shutdown timeout"
    assert "Traceback" not in exporter.log()
