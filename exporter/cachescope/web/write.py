"""Writing a response as fast as its client reads it, without holding a thread meanwhile.

A client that stops reading fills the kernel's buffers; a thread that then
waits for it is a thread the next scrape cannot have. So a response is sent
in what the socket takes now, and the rest waits on the connection for the
socket to be writable again, to be sent by whichever thread is free then.
"""

from __future__ import annotations

import dataclasses
import itertools
import socket
import ssl
import time
from collections.abc import Iterable, Iterator

from cachescope.exposition.joined import Chunk

WRITE_STALL = 10.0  # a response waits this long for its client to read more
RESPONSE_TIMEOUT = 120.0  # a whole response, however slowly the client reads
_BLOCK = 1 << 18  # small chunks are gathered into sends of about this size


@dataclasses.dataclass(slots=True, eq=False)
class Outgoing:
    """A response under way: what is left of it, and whether the connection stays after."""

    blocks: Iterator[Chunk]
    left: int  # bytes not sent yet, by Content-Length: what a parked response holds
    keep: bool
    give_up: float  # monotonic time past which the response is abandoned
    pending: memoryview = memoryview(b"")


def start(head: bytes, body: bytes | Iterable[Chunk], length: int, keep: bool) -> Outgoing:
    """A response to send: its head, then its body of `length` bytes, whole or in pieces."""
    if isinstance(body, bytes):
        blocks: Iterator[Chunk] = iter([head + body])
    else:  # a fleet's /metrics: its pieces as they are, no joined copy
        blocks = itertools.chain([head], _blocks(body))
    return Outgoing(blocks, len(head) + length, keep, time.monotonic() + RESPONSE_TIMEOUT)


def push(sock: socket.socket, out: Outgoing) -> bool | None:
    """Send what the socket takes now: True when all is sent, None if it would block.

    False if the body was not the length announced (the connection must close).
    """
    while True:
        if not out.pending:
            block = next(out.blocks, None)
            if block is None:
                return out.left == 0
            out.pending = memoryview(block)
        try:
            sent = sock.send(out.pending)
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            return None  # a TLS write retried later gets the same bytes, as OpenSSL needs
        out.pending = out.pending[sent:]
        out.left -= sent


def push_blocking(sock: socket.socket, out: Outgoing) -> bool:
    """Send the rest from this thread, each write waiting WRITE_STALL at most; False if short."""
    sock.settimeout(WRITE_STALL)
    try:
        while True:
            if time.monotonic() > out.give_up:
                raise TimeoutError("the client reads the response too slowly")
            if not out.pending:
                block = next(out.blocks, None)
                if block is None:
                    return out.left == 0
                out.pending = memoryview(block)
            sock.sendall(out.pending)
            out.left -= len(out.pending)
            out.pending = memoryview(b"")
    finally:
        sock.setblocking(False)


def _blocks(chunks: Iterable[Chunk], size: int = _BLOCK) -> Iterator[Chunk]:
    """Small chunks gathered into writes of about `size` bytes: one syscall each.

    A chunk of `size` or more goes as it is: a family a worker joined is megabytes,
    and a copy of it would be held beside every target's text until it is sent.
    """
    batch: list[Chunk] = []
    pending = 0
    for chunk in chunks:
        if len(chunk) >= size:
            if batch:
                yield b"".join(batch)
                batch, pending = [], 0
            yield chunk
            continue
        batch.append(chunk)
        pending += len(chunk)
        if pending >= size:
            yield b"".join(batch)
            batch, pending = [], 0
    if batch:
        yield b"".join(batch)
