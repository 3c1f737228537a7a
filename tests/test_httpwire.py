"""What the front adds to h11: unsafe bytes refused, keep-alive, targets, closing responses."""

from __future__ import annotations

import h11
import pytest
from cachescope.web.wire import MAX_BODY, BadRequest, closing_response, from_event


def parse(raw: bytes) -> h11.Request:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(raw)
    event = conn.next_event()
    assert isinstance(event, h11.Request)
    return event


def test_keep_alive_follows_the_version_and_the_connection_tokens() -> None:
    request = from_event(
        parse(b"GET /scrape?target=redis%3A%2F%2Fa%3A1 HTTP/1.1\r\nHost: x\r\n\r\n")
    )
    assert request.keep_alive and request.method == "GET"
    assert request.path == "/scrape" and request.query() == {"target": ["redis://a:1"]}
    assert not from_event(
        parse(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    ).keep_alive
    closing = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Close\r\n\r\n"
    assert not from_event(parse(closing)).keep_alive
    assert not from_event(parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")).keep_alive


def test_absolute_form_target_gives_its_path() -> None:
    request = from_event(parse(b"GET http://x:9808/metrics?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert (request.path, request.query()) == ("/metrics", {"a": ["1"]})


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: \xa0b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1), 413),
    ],
)
def test_unsafe_requests_get_a_status_not_an_exception(raw: bytes, status: int) -> None:
    with pytest.raises(BadRequest) as caught:
        from_event(parse(raw))
    assert caught.value.status == status


def test_a_tab_inside_a_header_value_is_fine() -> None:
    request = from_event(parse(b"GET / HTTP/1.1\r\nHost: x\r\nX: a\tb\r\n\r\n"))
    assert request.headers["x"] == "a\tb"


def test_closing_response_is_one_piece_with_length_and_connection_close() -> None:
    data = closing_response(503, "busy", {"Retry-After": "1"})
    head, body = data.split(b"\r\n\r\n", 1)
    assert body == b"busy\n"
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 503 Service Unavailable"
    assert "Content-Length: 5" in lines and "Connection: close" in lines
    assert "Retry-After: 1" in lines
    assert any(line.startswith("Date: ") and line.endswith(" GMT") for line in lines)
