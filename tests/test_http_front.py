"""The exporter's HTTP front under hostile clients: slow, silent, many, or speaking bad HTTP."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from httpclient import Attackers, Reader, exchange, raise_open_file_limit, timed_get
from servers import Exporter, Exposition, RedisServer, wait_for

# Generous: the old front made these clients wait for 120 s per-read timeouts.
PROMPT = 1.0


@pytest.fixture(scope="module")
def target() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def exporter(target: RedisServer) -> Iterator[Exporter]:
    raise_open_file_limit()
    started = Exporter("--target", target.uri)
    yield started
    started.stop()


def assert_prompt_answers(port: int) -> None:
    reply, took = timed_get(port, "/metrics")
    assert reply.status == 200 and Exposition(reply.body.decode()).get("redis_up") == [1.0]
    assert took < PROMPT, f"/metrics took {took:.2f}s"
    reply, took = timed_get(port, "/-/healthy")
    assert reply.status == 200 and reply.body == b"Healthy\n"
    assert took < PROMPT, f"/-/healthy took {took:.2f}s"


@pytest.mark.parametrize("count", [64, 500])
@pytest.mark.parametrize("trickle", [True, False], ids=["one-byte-a-second", "silent"])
def test_slow_and_silent_connections_do_not_delay_metrics_or_health(
    exporter: Exporter, count: int, trickle: bool
) -> None:
    attackers = Attackers(exporter.port, count, trickle)
    try:
        time.sleep(1.5)  # the attackers are connected and have sent a byte or two
        assert_prompt_answers(exporter.port)
        time.sleep(2)
        assert_prompt_answers(exporter.port)
    finally:
        attackers.close()


def test_past_the_connection_limit_a_client_gets_503_with_retry_after(
    start_redis,  # type: ignore[no-untyped-def]
    start_exporter,  # type: ignore[no-untyped-def]
) -> None:
    hung = start_redis()
    exporter = start_exporter("--target", hung.uri, "--timeout", "5s", "--web.max-connections", "2")
    hung.pause()
    busy = [threading.Thread(target=exporter.get, args=("/metrics",)) for _ in range(2)]
    try:
        for thread in busy:
            thread.start()
        # Until their requests are read, the two are waiting connections, which a
        # newcomer may evict; then they are busy, and only a 503 is left.
        time.sleep(1)

        def refused() -> bool:
            reply, closed = exchange(exporter.port, b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            return reply.status == 503 and int(reply.headers["retry-after"]) > 0 and closed

        wait_for(refused, timeout=4, what="a 503 while both connections are busy")
    finally:
        hung.resume()
        for thread in busy:
            thread.join()
    assert timed_get(exporter.port, "/-/healthy")[0].status == 200


def test_the_oldest_idle_connection_makes_room_for_a_new_client(
    start_exporter,  # type: ignore[no-untyped-def]
    redis_server: RedisServer,
) -> None:
    exporter = start_exporter("--target", redis_server.uri, "--web.max-connections", "8")
    attackers = Attackers(exporter.port, 8, trickle=False)
    try:
        assert_prompt_answers(exporter.port)
    finally:
        attackers.close()


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"GET /metrics HTTP/1.1\r\n\r\n",  # no Host on HTTP/1.1
        b"GET\xa0/metrics\xa0HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection:\xa0close\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: 1\x0b2\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\x00\r\n\r\n",
        b"GET /metrics HTTP/1.1\x0c\r\nHost: x\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n",
        b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n",
    ],
    ids=[
        "conflicting-length",
        "no-host",
        "nbsp-request-line",
        "nbsp-header",
        "vtab-header",
        "nul-header",
        "formfeed-request-line",
        "huge-head",
        "huge-body",
    ],
)
def test_malformed_requests_get_a_4xx_and_the_connection_closes(
    exporter: Exporter, raw: bytes
) -> None:
    reply, closed = exchange(exporter.port, raw)
    assert 400 <= reply.status < 500 and closed
    assert reply.headers["connection"] == "close"


def test_head_answers_like_get_without_a_body_and_keep_alive_stays_in_step(
    exporter: Exporter,
) -> None:
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as sock:
        reader = Reader(sock)
        sock.sendall(b"HEAD /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        head = reader.reply(head_only=True)
        sock.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        get = reader.reply()
        assert head.status == 200 and int(head.headers["content-length"]) == len(get.body)
        assert get.status == 200 and get.body == b"Healthy\n"
        sock.sendall(
            b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /-/ready HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert reader.reply(head_only=True).status == 200
        ready = reader.reply()
        assert (ready.status, ready.body) == (200, b"Ready\n")


def test_http10_without_host_is_served_and_closed(exporter: Exporter) -> None:
    reply, closed = exchange(exporter.port, b"GET /-/healthy HTTP/1.0\r\n\r\n")
    assert reply.status == 200 and closed


def test_keep_alive_then_close_in_one_header_closes(exporter: Exporter) -> None:
    raw = b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, close\r\n\r\n"
    reply, closed = exchange(exporter.port, raw)
    assert reply.status == 200 and closed


def test_pipelined_requests_get_one_response_each_in_order(exporter: Exporter) -> None:
    raw = b"".join(
        f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        for path in ("/-/ready", "/nowhere", "/metrics", "/-/healthy")
    )
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as sock:
        sock.sendall(raw)
        reader = Reader(sock)
        statuses = [reader.reply().status for _ in range(4)]
    assert statuses == [200, 404, 200, 200]


def test_a_tls_client_stalled_mid_handshake_blocks_no_one(
    redis_server: RedisServer,
    tls_certs: dict[str, str],
    tmp_path: Path,
) -> None:
    raise_open_file_limit()
    config = tmp_path / "web.yml"
    config.write_text(
        f"tls_server_config:\n  cert_file: {tls_certs['cert']}\n  key_file: {tls_certs['key']}\n"
    )
    context = ssl.create_default_context(cafile=tls_certs["ca"])
    secure = TLSExporter(
        "--target", redis_server.uri, "--web.config.file", str(config), context=context
    )
    stalled: list[socket.socket] = []
    try:
        for _ in range(200):  # connected at once, as an attacker would
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", secure.port))
            stalled.append(sock)
        time.sleep(4)  # past the kernel's SYN retries (1 s, 3 s) should the backlog overflow
        for sock in stalled[::2]:  # the start of a ClientHello, then nothing; or nothing at all
            with contextlib.suppress(OSError):
                sock.send(b"\x16\x03\x01\x02\x00\x01")
        started = time.monotonic()
        assert secure.get("/-/healthy")[0] == 200
        assert time.monotonic() - started < PROMPT
    finally:
        for sock in stalled:
            sock.close()
        secure.stop()


class TLSExporter(Exporter):
    """An exporter serving HTTPS, with a client that trusts its CA."""

    def __init__(self, *args: str, context: ssl.SSLContext) -> None:
        self.context = context
        super().__init__(*args)

    def get(self, path: str, timeout: float = 30) -> tuple[int, str]:
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        with self.context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            reply = Reader(sock).reply()
        return reply.status, reply.body.decode()


def test_evicting_connections_with_events_pending_never_stops_the_front(
    start_exporter,  # type: ignore[no-untyped-def]
    redis_server: RedisServer,
) -> None:
    raise_open_file_limit()
    exporter = start_exporter("--target", redis_server.uri, "--web.max-connections", "20")
    for round_ in range(40):
        try:
            evict_storm(exporter.port, 30)
            reply, _ = timed_get(exporter.port, "/-/healthy", timeout=10)
        except OSError as exc:
            code = exporter.proc.poll()
            pytest.fail(f"round {round_}: {exc!r}, exit code {code}\n{exporter.log()[-1500:]}")
        assert reply.status == 200, f"round {round_}"
    assert "Traceback" not in exporter.log()


def evict_storm(port: int, count: int) -> None:
    """`count` partial heads made readable and closed at once, while `count` newcomers arrive.

    The newcomers evict the oldest waiting connections while those have events
    pending in the same select() batch; their descriptors may be reused at once.
    """
    old = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    for sock in old:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nX: ")
    time.sleep(0.1)  # the front has read the partial heads
    new: list[socket.socket] = []

    def close_old() -> None:
        for sock in old:
            with contextlib.suppress(OSError):
                sock.sendall(b"a\r\n")
        for sock in old:
            sock.close()

    def open_new() -> None:
        for _ in range(count):
            with contextlib.suppress(OSError):
                new.append(socket.create_connection(("127.0.0.1", port), timeout=2))

    threads = [threading.Thread(target=close_old), threading.Thread(target=open_new)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    time.sleep(0.1)  # the front handles the batch before the newcomers leave
    for sock in new:
        sock.close()


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /metrics\x01SECRET-MARK HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nSECRET-MARK\x01: 1\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\n SECRET-MARK\r\nHost: x\r\n\r\n",
        b"SECRET-MARK\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-SECRET-MARK: " + b"a" * 70000 + b"\r\n\r\n",
    ],
    ids=["request-line", "header-name", "continuation", "no-request-line", "huge-head"],
)
def test_a_bad_request_is_answered_without_echoing_its_bytes(
    exporter: Exporter, raw: bytes
) -> None:
    reply, closed = exchange(exporter.port, raw)
    assert reply.status in (400, 431) and closed
    assert b"SECRET" not in reply.body and b"bytearray" not in reply.body, reply.body
    assert 0 < len(reply.body) < 80


def test_a_head_cut_off_at_its_deadline_gets_408_and_silence_gets_a_plain_close(
    exporter: Exporter,
) -> None:
    with (
        socket.create_connection(("127.0.0.1", exporter.port), timeout=30) as partial,
        socket.create_connection(("127.0.0.1", exporter.port), timeout=30) as silent,
    ):
        partial.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        reader = Reader(partial)
        reply = reader.reply()  # blocks until the front's head deadline, about 10 s
        assert reply.status == 408 and reply.headers["connection"] == "close"
        assert reader.at_eof()
        assert silent.recv(100) == b""  # closed at the same deadline, with no answer


def test_many_keep_alive_clients_at_once_each_get_their_own_answers_in_order(
    exporter: Exporter, target: RedisServer
) -> None:
    """Threads share the connections' events: no answer may go to the wrong client or be lost."""
    paths = [f"/scrape?target={target.uri}", "/-/healthy", "/nothing", "/metrics", "/-/ready"]
    failures: list[str] = []

    def client(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", exporter.port, timeout=30)
        try:
            for i in range(40):
                path = paths[(offset + i) % len(paths)]
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                if not _answers(path, response.status, body):
                    failures.append(f"{path}: {response.status} {body[:60]!r}")
        except OSError as exc:
            failures.append(f"client {offset}: {exc}")
        finally:
            conn.close()

    clients = [threading.Thread(target=client, args=(n,)) for n in range(24)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    assert failures == []


def _answers(path: str, status: int, body: bytes) -> bool:
    """Whether a response is the one `path` gets."""
    if path.startswith("/scrape") or path == "/metrics":
        return status == 200 and Exposition(body.decode()).get("redis_up") == [1.0]
    expected = {"/-/healthy": (200, b"Healthy\n"), "/-/ready": (200, b"Ready\n")}
    if path in expected:
        return (status, body) == expected[path]
    return status == 404


def test_a_request_head_seen_before_is_answered_only_when_it_starts_a_request(
    exporter: Exporter, target: RedisServer
) -> None:
    """The front remembers parsed heads by their bytes; the same bytes inside a head are not one."""
    head = f"GET /scrape?target={target.uri} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as sock:
        reader = Reader(sock)
        for _ in range(3):  # parsed, then remembered
            sock.sendall(head)
            reply = reader.reply()
            assert reply.status == 200 and b"redis_up 1" in reply.body
        sock.sendall(b"GET /-/ready HTTP/1.1\r\nX-Note: ")
        time.sleep(0.2)  # two reads: the known bytes reach a parser in mid-head
        sock.sendall(head)
        reply = reader.reply()  # one request for /-/ready, the scrape a header's value
        assert (reply.status, reply.body) == (200, b"Ready\n")
    closing = head.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    for _ in range(3):
        reply, closed = exchange(exporter.port, closing)
        assert reply.status == 200 and closed
