"""Property tests of the HTTP front: garbage never breaks it, valid requests get one answer each."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from httpclient import Reader, timed_get
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import Exporter, RedisServer

PATHS = {"/-/healthy": 200, "/-/ready": 200, "/metrics": 200, "/nowhere": 404, "/": 200}
TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
MARK = b"Zq7mark"  # sent among the garbage; an error response must not echo it
VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)


@pytest.fixture(scope="module")
def exporter() -> Iterator[Exporter]:
    target = RedisServer()
    started = Exporter("--target", target.uri)
    yield started
    started.stop()
    target.stop()


def send_in_pieces(sock: socket.socket, data: bytes, cuts: list[int]) -> None:
    start = 0
    for cut in sorted({c % (len(data) + 1) for c in cuts}) + [len(data)]:
        if cut > start:
            sock.sendall(data[start:cut])
            start = cut


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    garbage=st.one_of(
        st.binary(max_size=400),
        st.lists(
            st.sampled_from(
                [
                    b"GET ",
                    b"/metrics",
                    b" HTTP/1.1",
                    b"\r\n",
                    b"Host: x",
                    b"Content-Length: 3",
                    b":",
                    b" ",
                    b"\x00",
                    b"\xa0",
                    b"abc",
                    b"Transfer-Encoding: chunked",
                    b"0\r\n\r\n",
                    b"HEAD ",
                    MARK,
                ]
            ),
            max_size=30,
        ).map(b"".join),
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
def test_garbled_bytes_never_break_the_front(
    exporter: Exporter, garbage: bytes, cuts: list[int]
) -> None:
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as sock:
        try:
            send_in_pieces(sock, garbage, cuts)
            sock.shutdown(socket.SHUT_WR)
            reader = Reader(sock)
            while not reader.at_eof():  # every response that comes is well formed
                reply = reader.reply()
                assert MARK not in reply.body and b"bytearray" not in reply.body, reply.body
        except (ConnectionResetError, BrokenPipeError):
            pass  # closing on garbage is allowed; crashing is not
    reply, _ = timed_get(exporter.port, "/-/healthy")
    assert reply.status == 200


REQUEST = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["GET", "HEAD"]),
        "path": st.sampled_from(sorted(PATHS)),
        "headers": st.lists(st.tuples(TOKEN, VALUE), max_size=5),
    }
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    requests=st.lists(REQUEST, min_size=1, max_size=4),
    cuts=st.lists(st.integers(0, 2000), max_size=6),
)
def test_valid_requests_get_exactly_one_response_each(
    exporter: Exporter, requests: list[dict[str, object]], cuts: list[int]
) -> None:
    raw = b""
    for request in requests:
        headers = "".join(f"X-{name}: {value}\r\n" for name, value in request["headers"])  # type: ignore[attr-defined]
        raw += (
            f"{request['method']} {request['path']} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode()
        )
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as sock:
        send_in_pieces(sock, raw, cuts)
        reader = Reader(sock)
        for request in requests:
            reply = reader.reply(head_only=request["method"] == "HEAD")
            assert reply.status == PATHS[request["path"]]  # type: ignore[index]
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):  # nothing more: one response per request, kept open
            reader.at_eof()
