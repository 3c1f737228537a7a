"""The exporter's small HTTP/1.1 reader and writer, on canned bytes."""

from __future__ import annotations

import io

import pytest
from cachescope.httpwire import MAX_LINE, BadRequest, read_request, response


def read(raw: bytes):  # type: ignore[no-untyped-def]
    return read_request(io.BufferedReader(io.BytesIO(raw)))  # type: ignore[arg-type]


def test_keep_alive_follows_the_version_and_the_connection_header() -> None:
    request = read(b"GET /scrape?target=redis%3A%2F%2Fa%3A1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert request is not None and request.keep_alive
    assert request.path == "/scrape" and request.query() == {"target": ["redis://a:1"]}
    assert not read(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").keep_alive
    assert not read(b"GET / HTTP/1.0\r\n\r\n").keep_alive
    assert read(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive


def test_requests_in_a_row_on_one_connection_and_bodies_skipped() -> None:
    stream = io.BufferedReader(
        io.BytesIO(
            b"POST /-/reload HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
            b"GET /metrics HTTP/1.1\r\nAuthorization: Basic eDp5\r\n\r\n"
        )
    )
    first, second = read_request(stream), read_request(stream)  # type: ignore[arg-type]
    assert first is not None and first.method == "POST" and first.path == "/-/reload"
    assert second is not None and second.headers["authorization"] == "Basic eDp5"
    assert read_request(stream) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET / SPDY/3\r\n\r\n", 400),
        (b"GET /" + b"a" * MAX_LINE + b" HTTP/1.1\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 100 + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 999999999\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    ],
)
def test_bad_requests_get_a_status_not_an_exception(raw: bytes, status: int) -> None:
    with pytest.raises(BadRequest) as caught:
        read(raw)
    assert caught.value.status == status


def test_response_is_one_piece_with_length_and_connection() -> None:
    data = response(200, b"abc", "text/plain", {"X-A": "1"}, keep_alive=False)
    head, body = data.split(b"\r\n\r\n", 1)
    assert body == b"abc"
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 200 OK"
    assert "Content-Length: 3" in lines and "Connection: close" in lines and "X-A: 1" in lines
    assert any(line.startswith("Date: ") and line.endswith(" GMT") for line in lines)
