"""HTTP/1.1 messages for the front: h11 frames them, this adds what h11 leaves to us.

h11 refuses conflicting Content-Length, a missing Host on HTTP/1.1, bad request
lines and oversized heads, and tracks keep-alive by the RFC. It accepts control
characters and bytes above 0x7f in header values (RFC 9110's obs-text); no
client of an exporter sends those, and a proxy may read them differently, so
they are refused here.
"""

from __future__ import annotations

import dataclasses
import re
import time
from email.utils import formatdate
from urllib.parse import parse_qs, urlsplit

import h11

TEXT = "text/plain; charset=utf-8"
MAX_HEAD = 16 * 1024  # request line and headers, h11's default bound
MAX_BODY = 64 * 1024  # only POST /-/reload takes a body, and ignores it
REASONS = {
    200: b"OK",
    400: b"Bad Request",
    401: b"Unauthorized",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    413: b"Content Too Large",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
    505: b"HTTP Version Not Supported",
}
_UNSAFE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f-\xff]")  # HTAB is the one control allowed


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """A parsed request head; shared between requests that sent the same bytes, so read-only."""

    method: str
    path: str
    query_text: str
    headers: dict[str, str]
    keep_alive: bool

    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_text)


def split_target(target: str) -> tuple[str, str]:
    """(path, query) of a request target."""
    if target.startswith("/"):  # origin form, what clients send: no urlsplit
        path, _, query = target.partition("?")
        return path, query
    parts = urlsplit(target)
    return parts.path, parts.query


def from_event(event: h11.Request) -> Request:
    """The request h11 parsed, or BadRequest if a header or the target has unsafe bytes."""
    if _UNSAFE.search(event.target):
        raise BadRequest(400, "control or non-ASCII bytes in the request target")
    headers: dict[str, str] = {}
    for name, value in event.headers:
        if name == _SCRAPE_TIMEOUT_NAME and not value.isascii():
            continue  # a bad value of a hint: ignored like "abc", not the request refused
        if _UNSAFE.search(value):
            raise BadRequest(400, "control or non-ASCII bytes in a header value")
        headers[name.decode("ascii")] = value.decode("ascii")
    if event.http_version not in (b"1.0", b"1.1"):
        raise BadRequest(505, "only HTTP/1.0 and HTTP/1.1 are served")
    # No client of an exporter sends a chunked body, and a request framed two ways is
    # how requests are smuggled past a proxy: any Transfer-Encoding is refused.
    if "transfer-encoding" in headers:
        raise BadRequest(400, "Transfer-Encoding is not accepted; send Content-Length")
    length = headers.get("content-length")
    if length is not None and int(length) > MAX_BODY:
        raise BadRequest(413, "request body too large")
    tokens = {token.strip().lower() for token in headers.get("connection", "").split(",")}
    # As h11 decides: HTTP/1.0 connections close after one response.
    keep_alive = event.http_version == b"1.1" and "close" not in tokens
    path, query = split_target(event.target.decode("ascii"))
    return Request(event.method.decode("ascii"), path, query, headers, keep_alive)


_date: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header's value, formatted once a second."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


# The web config's http_server_config.headers, on every response the exporter
# writes (errors and refusals too). One exporter serves per process: the server
# sets them at its start and at each reload of the web config.
_configured: tuple[str, ...] = ()


def configure_headers(headers: dict[str, str]) -> None:
    """Add these headers to every response from now on."""
    global _configured
    _configured = tuple(f"{name}: {value}" for name, value in headers.items())


def response_head(
    status: int, length: int, content_type: str, extra: dict[str, str], keep_alive: bool
) -> bytes:
    """Status line and headers of a response whose body is `length` bytes.

    Written here rather than by h11: its checks of our own headers were two
    thirds of the cost of a health check.
    """
    lines = [
        f"HTTP/1.1 {status} {REASONS.get(status, b'Unknown').decode()}",
        f"Date: {http_date()}",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}",
    ]
    lines += [f"{name}: {value}" for name, value in extra.items()]
    lines += _configured
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def closing_response(status: int, message: str, extra: dict[str, str] | None = None) -> bytes:
    """A small response written by the front itself, after which it closes the connection."""
    body = f"{message}\n".encode()
    return response_head(status, len(body), TEXT, extra or {}, False) + body


# h11's messages quote the client's bytes (as a bytearray's repr); a response never does.
_COMPLAINTS = {
    "illegal request line": "malformed request line",
    "no request line": "malformed request line",
    "illegal header line": "malformed header line",
    "continuation line": "malformed header line",
    "Illegal header": "malformed header",
    "Missing mandatory Host": "missing Host header",
    "Found multiple Host": "more than one Host header",
    "conflicting Content-Length": "conflicting Content-Length headers",
    "bad Content-Length": "malformed Content-Length",
    "Only Transfer-Encoding": "unsupported Transfer-Encoding",
    "multiple Transfer-Encoding": "unsupported Transfer-Encoding",
    "illegal chunk header": "malformed chunked body",
    "malformed chunk footer": "malformed chunked body",
    "Receive buffer too long": "request head too large",
}


def complaint(h11_message: str) -> str:
    """A fixed message for what h11 refused: the kind of error, nothing the client sent."""
    for start, message in _COMPLAINTS.items():
        if h11_message.startswith(start):
            return message
    return "malformed HTTP request"


SCRAPE_TIMEOUT_HEADER = "x-prometheus-scrape-timeout-seconds"
MAX_SCRAPE_TIMEOUT = 3600.0  # beyond any target's own timeout: a larger value changes nothing
_SCRAPE_TIMEOUT_NAME = SCRAPE_TIMEOUT_HEADER.encode()  # h11 gives names lower-cased
# Below this no target answers; a value like 1e-308 would mark every target down.
MIN_SCRAPE_TIMEOUT = 0.1
_SPARE = 0.5  # of Prometheus' timeout, at most, left to send the body (or a tenth)


def scrape_budget(headers: dict[str, str]) -> float | None:
    """Seconds the scrape may take, by Prometheus' scrape timeout header less a margin.

    None without the header, or with a value that is not a number of seconds from
    MIN_SCRAPE_TIMEOUT up: the targets' own timeouts apply then, as for other clients.
    """
    text = headers.get(SCRAPE_TIMEOUT_HEADER)
    if text is None or len(text) > 32:
        return None
    try:
        timeout = float(text)
    except ValueError:
        return None
    if not MIN_SCRAPE_TIMEOUT <= timeout <= MAX_SCRAPE_TIMEOUT:  # NaN and infinities fail too
        return None
    return timeout - min(_SPARE, timeout / 10)
