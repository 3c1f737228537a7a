"""The front's connections: admitted, handed to one thread at a time, parked, evicted, swept.

Everything here runs under one lock, held for bookkeeping only (never for a
read of a request or a write of a response), so the threads of the front agree
on who owns a connection and when its descriptor may be closed.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time

import h11

from cachescope.logs import fields
from cachescope.web.conn import HEAD_TIMEOUT, RETRY, TOO_MANY, Connection, Lingering, Refusals
from cachescope.web.poll import Poller
from cachescope.web.wire import MAX_HEAD
from cachescope.web.write import WRITE_STALL, Outgoing

log = logging.getLogger(__name__)

# Responses left for slow readers to take; past this a thread waits for its client.
PARKED_BYTES = 256 << 20
_LISTENER = object()  # the listening socket's owner in the poller


class Registry:
    """Every connection of the front, and the poller that reports them ready."""

    def __init__(self, listener: socket.socket, tls: ssl.SSLContext | None, limit: int) -> None:
        self.lock = threading.Lock()
        self.poller = Poller()
        self.closing = False
        self.parked: set[Connection] = set()  # responses waiting for their clients to read
        self._listener, self._tls, self._limit = listener, tls, max(1, limit)
        self._conns: set[Connection] = set()
        self._refusals = Refusals(self.poller)
        self._accepting = True
        listener.setblocking(False)
        self.poller.add(listener.fileno(), _LISTENER)

    def use_tls(self, tls: ssl.SSLContext | None) -> None:
        """Serve new connections with this context (a reloaded one); open ones keep theirs."""
        self._tls = tls

    def claim(self, owner: object) -> Connection | None:
        """The connection a ready descriptor belongs to, now the caller's; None if not one."""
        with self.lock:
            if owner is _LISTENER:
                self._accept()
            elif isinstance(owner, Lingering):
                self._refusals.drain(owner)
            # Busy: an event read before another thread forgot the descriptor and the
            # next connection took its number; its owner re-arms it.
            elif isinstance(owner, Connection) and not owner.busy and not owner.closed:
                owner.busy = True
                return owner
        return None

    def release(self, conn: Connection, write: bool = False) -> None:
        """Done with it for now: let its next event through, to whichever thread waits."""
        with self.lock:
            if self.closing:
                self._forget(conn, owned=True)
                return
            conn.busy = False
            self.poller.rearm(conn.fd, write)

    def close(self, conn: Connection) -> None:
        """Close a connection the caller owns."""
        with self.lock:
            self._forget(conn, owned=True)

    def reject(self, conn: Connection, status: int, message: str) -> None:
        """Answer an error and close: the refusal lingers on, the connection is done."""
        log.debug("bad request", extra=fields(status=status, detail=message))
        with self.lock:
            self._refuse(conn, status, message)

    def park(self, conn: Connection, out: Outgoing) -> bool:
        """Leave the rest of a response to be sent when the client reads; False if over budget."""
        with self.lock:
            parked = sum(c.outgoing.left for c in self.parked if c.outgoing)
            if parked + out.left > PARKED_BYTES:
                return False
            conn.outgoing = out
            self.parked.add(conn)
            conn.deadline = time.monotonic() + WRITE_STALL
            conn.busy = False
            self.poller.rearm(conn.fd, write=True)
            return True

    def wait_to_write(self, conn: Connection, progressed: bool) -> None:
        """A parked response the socket took part of, or none of: wait for it again."""
        with self.lock:
            if progressed:  # the client reads, however slowly
                conn.deadline = time.monotonic() + WRITE_STALL
            conn.busy = False
            self.poller.rearm(conn.fd, write=True)

    def unpark(self, conn: Connection) -> None:
        with self.lock:
            self.parked.discard(conn)
            conn.outgoing = None

    def shut(self) -> None:
        """Stop listening and close every connection no thread owns or writes to."""
        with self.lock:
            self.closing = True
            if self._listener.fileno() != -1:
                self.poller.remove(self._listener.fileno(), _LISTENER)
                self._listener.close()
            for conn in [c for c in self._conns if not c.busy and c.outgoing is None]:
                self._forget(conn)
            self._refusals.close()

    def sweep(self, now: float) -> None:
        """Close connections past their deadline; accept again once descriptors are free."""
        with self.lock:
            for conn in [c for c in self._conns if not c.busy and c.deadline <= now]:
                if conn.outgoing is not None:
                    log.debug("closing a connection whose client stopped reading its response")
                    self._forget(conn)
                elif conn.heard and not conn.handshaking:  # part of a head came: say why
                    log.debug("answering 408 to a connection slow to send its request")
                    self._refuse(conn, 408, "request not received in time")
                else:
                    log.debug(
                        "closing a connection held too long",
                        extra=fields(state="idle" if conn.idle else "slow"),
                    )
                    self._forget(conn)
            self._refusals.sweep(now)
            if not self._accepting and not self.closing:
                self._accepting = True
                self.poller.rearm(self._listener.fileno())

    def _accept(self) -> None:
        for _ in range(64):  # then let the others' events in
            try:
                sock, _ = self._listener.accept()
            except BlockingIOError:
                break
            except OSError as exc:  # out of file descriptors: make room, or pause
                log.warning("cannot accept a connection", extra=fields(error=str(exc)))
                if not self._evict():
                    self._accepting = False
                    return
                break
            try:
                self._admit(sock)
            except OSError as exc:  # gone already (reset before we looked): its loss alone
                log.debug("dropping a new connection", extra=fields(error=str(exc)))
                sock.close()
        if not self.closing:
            self.poller.rearm(self._listener.fileno())

    def _admit(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        if sock.family != socket.AF_UNIX:  # no Nagle delay on keep-alive responses
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tls = self._tls  # once: a reload of the web config may swap it meanwhile
        if len(self._conns) >= self._limit and not self._evict():
            log.warning(
                "too many HTTP connections; refusing one",
                extra=fields(connections=len(self._conns)),
            )
            self._refusals.too_many(sock, tls=tls is not None)
            return
        now = time.monotonic()
        if tls is not None:
            sock = tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        conn = Connection(
            sock=sock,
            fd=sock.fileno(),
            http=h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD),
            deadline=now + HEAD_TIMEOUT,
            since=now,
            handshaking=tls is not None,
        )
        self._conns.add(conn)
        self.poller.add(conn.fd, conn)  # its first flight may be here already: an event comes

    def _evict(self) -> bool:
        """Close the connection that has waited longest for a request; False if none waits.

        An idle kept-alive one is just closed, as HTTP allows. One that has not been
        answered yet may be a client whose request is on its way: it gets a 503.
        """
        waiting = [conn for conn in self._conns if not conn.busy]
        if not waiting:
            return False
        oldest = min(waiting, key=lambda conn: conn.since)
        if oldest.answered or isinstance(oldest.sock, ssl.SSLSocket):
            self._forget(oldest)
        else:
            self._refuse(oldest, 503, TOO_MANY, RETRY)
        return True

    def _refuse(
        self, conn: Connection, status: int, message: str, extra: dict[str, str] | None = None
    ) -> None:
        """Forget the connection; its socket lingers in Refusals."""
        self.poller.remove(conn.fd, conn)
        self._conns.discard(conn)
        conn.closed = True
        self._refusals.refuse(conn.sock, status, message, extra)

    def _forget(self, conn: Connection, owned: bool = False) -> None:
        """Stop watching a connection and close it, once."""
        if conn.busy and not owned:
            return
        self.poller.remove(conn.fd, conn)  # before the close, while the fd is its
        self._conns.discard(conn)
        self.parked.discard(conn)
        conn.outgoing = None
        if not conn.closed:
            conn.closed = True
            with contextlib.suppress(OSError):
                conn.sock.close()
