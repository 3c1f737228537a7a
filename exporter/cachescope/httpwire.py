"""Just enough HTTP/1.1 for an exporter: read a request, write a response in one piece.

http.server's BaseHTTPRequestHandler parses headers with the email package and
writes headers and body separately; for a scrape that is a sixth of the CPU.
This reads the request line and headers with a plain loop, keeps connections
alive as Prometheus expects, and bounds every size a client controls.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from email.utils import formatdate
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

MAX_LINE = 8192
MAX_HEADERS = 64
MAX_BODY = 64 * 1024
REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    414: "URI Too Long",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class Stream(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...

    def read(self, size: int = -1, /) -> bytes: ...


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclasses.dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    keep_alive: bool

    @functools.cached_property
    def _split(self) -> tuple[str, str]:
        """(path, query) of the request target."""
        if self.target.startswith("/"):  # origin form, what clients send: no urlsplit
            path, _, query = self.target.partition("?")
            return path, query
        parts = urlsplit(self.target)
        return parts.path, parts.query

    @property
    def path(self) -> str:
        return self._split[0]

    def query(self) -> dict[str, list[str]]:
        return parse_qs(self._split[1])


def read_request(stream: Stream) -> Request | None:
    """The next request on a connection; None at end of stream."""
    line = stream.readline(MAX_LINE + 1)
    while line in (b"\r\n", b"\n"):  # tolerate blank lines between requests
        line = stream.readline(MAX_LINE + 1)
    if not line:
        return None
    if len(line) > MAX_LINE:
        raise BadRequest(414, "request line too long")
    parts = line.decode("latin-1").split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "malformed request line")
    method, target, version = parts
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS):
        field = stream.readline(MAX_LINE + 1)
        if field in (b"\r\n", b"\n", b""):
            break
        if len(field) > MAX_LINE:
            raise BadRequest(431, "header line too long")
        name, sep, value = field.decode("latin-1").partition(":")
        if not sep:
            raise BadRequest(400, "malformed header line")
        headers[name.strip().lower()] = value.strip()
    else:
        raise BadRequest(431, "too many header lines")
    _skip_body(stream, headers)
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return Request(method, target, headers, keep_alive)


def _skip_body(stream: Stream, headers: dict[str, str]) -> None:
    if "transfer-encoding" in headers:
        raise BadRequest(400, "chunked request bodies are not supported")
    length = headers.get("content-length", "0")
    if not length.isdecimal():
        raise BadRequest(400, "bad Content-Length")
    if int(length) > MAX_BODY:
        raise BadRequest(413, "request body too large")
    if int(length):
        stream.read(int(length))


_date: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, formatdate(now, usegmt=True))
    return _date[1]


def head(
    status: int,
    length: int,
    content_type: str = "text/plain; charset=utf-8",
    headers: dict[str, str] | None = None,
    keep_alive: bool = True,
) -> bytes:
    """The status line and headers of a response whose body is `length` bytes."""
    lines = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
        f"Date: {_http_date()}",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}",
    ]
    if not keep_alive:
        lines.append("Connection: close")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def response(
    status: int,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    headers: dict[str, str] | None = None,
    keep_alive: bool = True,
) -> bytes:
    """A whole response, headers and body, ready for one write."""
    return head(status, len(body), content_type, headers, keep_alive) + body
