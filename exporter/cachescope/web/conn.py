"""One HTTP connection of the front: its state, reading it, a small response, refusing it."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import ssl
import time
from collections.abc import Callable, Iterable

import h11

from cachescope.exposition.joined import Chunk
from cachescope.web.poll import Poller
from cachescope.web.wire import MAX_HEAD, Request, closing_response, response_head
from cachescope.web.write import Outgoing, start

HEAD_TIMEOUT = 10.0  # from a request's first byte (or the TLS hello) to its end
# Between requests on a kept-alive connection: above a 60 s scrape interval and its
# jitter, so Prometheus reuses its connection; an idle one costs only a descriptor.
IDLE_TIMEOUT = 75.0
LINGER = 2.0  # after a refusal, time for the client to read it before the close
MAX_LINGERING = 1024  # refused connections kept for that; past it the oldest is closed
TOO_MANY, RETRY = "too many connections; retry shortly", {"Retry-After": "1"}


@dataclasses.dataclass(slots=True)
class Streamed:
    """A large body: its size, and its pieces as they come."""

    size: int
    chunks: Iterable[Chunk]


@dataclasses.dataclass(slots=True)
class Answer:
    """A handler's response to one request, before it is encoded."""

    status: int
    body: bytes | Streamed
    content_type: str
    headers: dict[str, str]  # extra headers (Allow, Retry-After, ...)


Handler = Callable[[Request], Answer]


@dataclasses.dataclass(slots=True, eq=False)
class Connection:
    sock: socket.socket
    # Its descriptor as registered: sock.fileno() is -1 once closed, and the number
    # may already belong to a newer connection.
    fd: int
    http: h11.Connection
    deadline: float
    since: float  # when its current wait began: the oldest waiting one is evicted first
    handshaking: bool = False
    busy: bool = False  # a thread is reading or answering it: the others leave it alone
    idle: bool = False  # between requests
    heard: bool = False  # a byte of the current request has come: a timeout is answered
    closed: bool = False  # forgotten: a late event for its descriptor is not its own
    answered: bool = False  # a request of it was answered: idle now, not a newcomer
    request: Request | None = None
    body: int = 0
    # The bytes of the current request, if they came in one piece on a fresh parser:
    # what the parsed head may be remembered by.
    whole: bytes | None = None
    outgoing: Outgoing | None = None  # a response waiting for its client to read on

    def wait(self, now: float) -> None:
        """Start waiting: for a whole request if one is under way, else idle."""
        self.idle = not self.http.trailing_data[0]
        self.answered = True
        self.heard = not self.idle
        self.deadline = now + (IDLE_TIMEOUT if self.idle else HEAD_TIMEOUT)
        self.since = now


def receive(sock: socket.socket) -> bytes | None:
    """What the socket has now: None if nothing yet, b"" at its end or on an error."""
    try:
        data = sock.recv(65536)
        while isinstance(sock, ssl.SSLSocket) and sock.pending():
            data += sock.recv(sock.pending())
        return data
    except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
        return None
    except OSError:
        return b""


def answer_now(conn: Connection, request: Request, answer: Answer, closing: bool) -> bool:
    """Write a small response without blocking, from the front; True if the connection stays."""
    keep = request.keep_alive and not closing
    data = encode(request, answer, keep)
    try:
        sent = conn.sock.send(data)
    except OSError:
        return False
    # A client that leaves its earlier answers unread is not waited for.
    return sent == len(data) and keep and next_cycle(conn)


def outgoing(request: Request, answer: Answer, closing: bool) -> Outgoing:
    """The response to send for `answer`, head and body (no body for HEAD)."""
    keep = request.keep_alive and not closing
    body = answer.body
    size = len(body) if isinstance(body, bytes) else body.size
    head = response_head(answer.status, size, answer.content_type, answer.headers, keep)
    if request.method == "HEAD":
        return start(head, b"", 0, keep)
    if isinstance(body, bytes):
        return start(head, body, size, keep)
    return start(head, body.chunks, size, keep)


def encode(request: Request, answer: Answer, keep: bool) -> bytes:
    """A response with a small body, ready for one write (no body for HEAD)."""
    body = answer.body
    assert isinstance(body, bytes)
    head = response_head(answer.status, len(body), answer.content_type, answer.headers, keep)
    return head if request.method == "HEAD" else head + body


def next_cycle(conn: Connection) -> bool:
    """Ready the connection for its next request, keeping what was pipelined; False if closed."""
    pipelined, closed = conn.http.trailing_data
    if closed:
        return False
    # A fresh parser is cheaper than walking h11 through a response we wrote ourselves.
    conn.http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    if pipelined:
        conn.http.receive_data(bytes(pipelined))
    return True


@dataclasses.dataclass(slots=True, eq=False)
class Lingering:
    """A refused connection, read and discarded so that its close does not reset the refusal."""

    sock: socket.socket
    fd: int
    deadline: float


class Refusals:
    """Connections the front answered with an error and is closing: theirs to finish.

    Not thread-safe: the front calls it under its lock.
    """

    def __init__(self, poller: Poller) -> None:
        self._poller = poller
        self._lingering: dict[Lingering, None] = {}  # oldest first

    def refuse(
        self, sock: socket.socket, status: int, message: str, extra: dict[str, str] | None = None
    ) -> None:
        """Send a small closing response, then linger so the client can read it."""
        try:
            sock.send(closing_response(status, message, extra))
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            sock.close()
            return
        if len(self._lingering) >= MAX_LINGERING:  # the oldest had the longest to read
            self.forget(next(iter(self._lingering)))
        lingering = Lingering(sock, sock.fileno(), time.monotonic() + LINGER)
        try:
            self._poller.add(lingering.fd, lingering)
        except (KeyError, ValueError, OSError):  # not worth a linger: the refusal is sent
            sock.close()
            return
        self._lingering[lingering] = None

    def too_many(self, sock: socket.socket, tls: bool) -> None:
        """Refuse a connection past the limit: 503, or over TLS (no handshake yet) a close."""
        if tls:
            sock.close()
        else:
            self.refuse(sock, 503, TOO_MANY, RETRY)

    def drain(self, lingering: Lingering) -> None:
        """Discard what the client still sends; close at its end."""
        if lingering not in self._lingering:
            return
        if receive(lingering.sock) == b"":
            self.forget(lingering)
        else:
            self._poller.rearm(lingering.fd)

    def sweep(self, now: float) -> None:
        for lingering in [x for x in self._lingering if x.deadline <= now]:
            self.forget(lingering)

    def close(self) -> None:
        for lingering in list(self._lingering):
            self.forget(lingering)

    def forget(self, lingering: Lingering) -> None:
        """Stop watching and close it; again is a no-op."""
        if lingering not in self._lingering:
            return
        del self._lingering[lingering]
        self._poller.remove(lingering.fd, lingering)  # before the close: the fd is still ours
        with contextlib.suppress(OSError):
            lingering.sock.close()
