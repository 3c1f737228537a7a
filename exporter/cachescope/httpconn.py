"""One HTTP connection of the front: its state, reading it, writing a response, refusing it."""

from __future__ import annotations

import dataclasses
import selectors
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Iterator

import h11

from cachescope.httpwire import REASONS, Request, closing_response, response_headers
from cachescope.joined import Chunk

WRITE_STALL = 10.0  # one write of a response waits this long for the client to read
RESPONSE_TIMEOUT = 120.0  # a whole response, however slowly the client reads
LINGER = 2.0  # after a refusal, time for the client to read it before the close
MAX_LINGERING = 256  # refused connections kept for that; under a flood the rest just close
Streamed = tuple[int, Iterable[Chunk]]  # a large body: its size, and its pieces as they come
Answer = tuple[int, bytes | Streamed, str, dict[str, str]]
Handler = Callable[[Request], Answer]


@dataclasses.dataclass(slots=True, eq=False)
class Connection:
    sock: socket.socket
    http: h11.Connection
    deadline: float
    since: float  # when its current wait began: the oldest waiting one is evicted first
    handshaking: bool = False
    busy: bool = False  # a worker owns it
    idle: bool = False  # between requests
    request: Request | None = None
    body: int = 0


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


def write_answer(conn: Connection, request: Request, answer: Answer, closing: bool) -> bool:
    """Write a response from a worker, blocking with deadlines; True if the connection stays."""
    status, body, content_type, extra = answer
    if closing:
        extra = {**extra, "Connection": "close"}
    length = len(body) if isinstance(body, bytes) else body[0]
    head = conn.http.send(
        h11.Response(
            status_code=status,
            reason=REASONS.get(status, b""),
            headers=response_headers(length, content_type, extra),
        )
    )
    assert head is not None
    sock, deadline = conn.sock, time.monotonic() + RESPONSE_TIMEOUT
    sock.settimeout(WRITE_STALL)
    if request.method == "HEAD":  # h11 frames it with no body; the length stays the GET's
        sock.sendall(head)
    elif isinstance(body, bytes):  # small: one write
        conn.http.send_with_data_passthrough(h11.Data(data=body))
        sock.sendall(head + body)
    else:  # a fleet's /metrics: its pieces as they are, no joined copy
        sock.sendall(head)
        for block in _blocks(body[1]):
            if time.monotonic() > deadline:
                raise TimeoutError("the client reads the response too slowly")
            # Content-Length framing passes data through unchanged: h11 counts, we send.
            conn.http.send_with_data_passthrough(h11.Data(data=block))
            sock.sendall(block)
    conn.http.send(h11.EndOfMessage())
    if conn.http.our_state is not h11.DONE or conn.http.their_state is not h11.DONE:
        return False
    conn.http.start_next_cycle()
    sock.setblocking(False)
    return True


def _blocks(chunks: Iterable[Chunk], size: int = 1 << 18) -> Iterator[bytes]:
    """Small chunks gathered into writes of about `size` bytes: one syscall each."""
    batch: list[Chunk] = []
    pending = 0
    for chunk in chunks:
        batch.append(chunk)
        pending += len(chunk)
        if pending >= size:
            yield b"".join(batch)
            batch, pending = [], 0
    if batch:
        yield b"".join(batch)


@dataclasses.dataclass(slots=True, eq=False)
class Lingering:
    """A refused connection, read and discarded so that its close does not reset the refusal."""

    sock: socket.socket
    deadline: float


class Refusals:
    """Connections the front answered with an error and is closing: theirs to finish."""

    def __init__(self, selector: selectors.BaseSelector) -> None:
        self._selector = selector
        self._lingering: set[Lingering] = set()

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
        if len(self._lingering) >= MAX_LINGERING:
            sock.close()
            return
        lingering = Lingering(sock, time.monotonic() + LINGER)
        self._lingering.add(lingering)
        self._selector.register(sock, selectors.EVENT_READ, lingering)

    def drain(self, lingering: Lingering) -> None:
        """Discard what the client still sends; close at its end."""
        if receive(lingering.sock) == b"":
            self._forget(lingering)

    def sweep(self, now: float) -> None:
        for lingering in [x for x in self._lingering if x.deadline <= now]:
            self._forget(lingering)

    def close(self) -> None:
        for lingering in list(self._lingering):
            self._forget(lingering)

    def _forget(self, lingering: Lingering) -> None:
        self._selector.unregister(lingering.sock)
        self._lingering.discard(lingering)
        lingering.sock.close()
