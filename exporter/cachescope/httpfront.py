"""The HTTP front: one selector thread reads requests, a bounded pool of threads answers them.

A thread per connection let 64 clients that send a byte a second, or nothing,
hold every slot. Here a connection costs a file descriptor until its request
is complete: only complete requests reach a worker, deadlines close the
connections that are slow to send a head or idle too long, and when the
connections are all taken the oldest idle or slow one makes room.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import h11

from cachescope.httpconn import (
    HEAD_TIMEOUT,
    Answer,
    Connection,
    Handler,
    Lingering,
    Refusals,
    answer_now,
    receive,
    write_answer,
)
from cachescope.httpwire import MAX_BODY, MAX_HEAD, BadRequest, Request, from_event

log = logging.getLogger(__name__)

REQUEST_WORKERS = 64  # requests answered at once: the old connection limit
LIGHT_PATHS = frozenset({"/-/healthy", "/-/ready"})  # own threads: never behind a scrape


class Front:
    """Serves `handler`'s answers on `listener` until shutdown()."""

    def __init__(
        self,
        listener: socket.socket,
        handler: Handler,
        tls: ssl.SSLContext | None,
        max_connections: int,
        quick: Callable[[Request], Answer | None] | None = None,
    ) -> None:
        self.handler, self.quick = handler, quick
        self.max_connections = max(1, max_connections)
        self.active = 0  # requests being answered
        self.closing = False
        self._listener, self._tls = listener, tls
        listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(listener, selectors.EVENT_READ, None)
        self._wake_r, self._wake_w = socket.socketpair()
        for sock in (self._wake_r, self._wake_w):
            sock.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, self._wake_r)
        self._conns: set[Connection] = set()
        self._refusals = Refusals(self._selector)
        self._returned: collections.deque[Connection] = collections.deque()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(REQUEST_WORKERS, "http")
        self._light = ThreadPoolExecutor(2, "http-health")
        self._stop, self._stopped = threading.Event(), threading.Event()
        self._accepting = True

    def serve_forever(self) -> None:
        self._stopped.clear()
        next_sweep = 0.0
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(0.5):
                    if key.data is None:
                        self._accept()
                    elif key.data is self._wake_r:
                        self._take_back()
                    elif isinstance(key.data, Lingering):
                        self._refusals.drain(key.data)
                    else:
                        self._on_event(key.data)
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + 0.5
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop serve_forever() and wait until it returned."""
        self._stop.set()
        self._wake()
        self._stopped.wait()

    def close(self) -> None:
        """Stop listening and close every connection no worker owns; workers finish theirs."""
        self.closing = True
        self._listener.close()
        self._take_back()
        for conn in [c for c in self._conns if not c.busy]:
            self._close(conn)
        self._refusals.close()
        self._pool.shutdown(wait=False)
        self._light.shutdown(wait=False)

    def _wake(self) -> None:
        # Full: a wake-up is pending already; closed: shutting down.
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    def _accept(self) -> None:
        for _ in range(64):  # then let the others' events in
            try:
                sock, _ = self._listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:  # out of file descriptors: make room, or pause
                log.warning("cannot accept a connection: %s", exc)
                if not self._evict():
                    self._selector.unregister(self._listener)
                    self._accepting = False
                return
            sock.setblocking(False)
            if sock.family != socket.AF_UNIX:  # no Nagle delay on keep-alive responses
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if len(self._conns) >= self.max_connections and not self._evict():
                log.warning("too many HTTP connections (%d); refusing one", len(self._conns))
                self._refusals.too_many(sock, tls=self._tls is not None)
                continue
            self._admit(sock)

    def _admit(self, sock: socket.socket) -> None:
        now = time.monotonic()
        handshaking = self._tls is not None
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        conn = Connection(sock, http, now + HEAD_TIMEOUT, now, handshaking)
        self._conns.add(conn)
        self._selector.register(sock, selectors.EVENT_READ, conn)
        if handshaking:
            self._handshake(conn)

    def _evict(self) -> bool:
        """Close the connection that has waited longest for a request; False if none waits."""
        waiting = [conn for conn in self._conns if not conn.busy]
        if waiting:
            self._close(min(waiting, key=lambda conn: conn.since))
        return bool(waiting)

    def _handshake(self, conn: Connection) -> None:
        assert isinstance(conn.sock, ssl.SSLSocket)
        try:
            conn.sock.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError) as exc:
            writing = isinstance(exc, ssl.SSLWantWriteError)
            events = selectors.EVENT_WRITE if writing else selectors.EVENT_READ
            self._selector.modify(conn.sock, events, conn)
            return
        except OSError as exc:
            log.debug("TLS handshake failed: %s", exc)
            self._close(conn)
            return
        conn.handshaking = False
        self._selector.modify(conn.sock, selectors.EVENT_READ, conn)
        self._on_event(conn)  # the request may have come with the handshake's last flight

    def _on_event(self, conn: Connection) -> None:
        if conn.handshaking:
            self._handshake(conn)
            return
        data = receive(conn.sock)
        if data is None:
            return
        if not data:
            self._close(conn)
            return
        if conn.idle:  # a new request begins: it has HEAD_TIMEOUT to arrive whole
            now = time.monotonic()
            conn.idle, conn.deadline, conn.since = False, now + HEAD_TIMEOUT, now
        conn.http.receive_data(data)
        self._advance(conn)

    def _advance(self, conn: Connection) -> None:
        """Feed h11's events on; a complete request goes to a worker."""
        while True:
            try:
                event = conn.http.next_event()
                if isinstance(event, h11.Request):
                    conn.request = from_event(event)
                elif isinstance(event, h11.Data):
                    conn.body += len(event.data)
                    if conn.body > MAX_BODY:
                        raise BadRequest(413, "request body too large")
            except h11.RemoteProtocolError as exc:
                self._reject(conn, exc.error_status_hint, str(exc))
                return
            except BadRequest as exc:
                self._reject(conn, exc.status, str(exc))
                return
            if event is h11.NEED_DATA:
                return
            if isinstance(event, h11.EndOfMessage):
                if not self._inline(conn):
                    self._dispatch(conn)
                    return
                if conn.sock.fileno() < 0:
                    return
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                self._close(conn)
                return

    def _inline(self, conn: Connection) -> bool:
        """Answer here what costs nothing (health), rather than hand it to a worker."""
        request = conn.request
        answer = self.quick(request) if self.quick and request else None
        if request is None or answer is None:
            return False
        conn.request, conn.body = None, 0
        if answer_now(conn, request, answer, self.closing):
            conn.wait(time.monotonic())
        else:
            self._close(conn)
        return True

    def _dispatch(self, conn: Connection) -> None:
        request, conn.request, conn.body = conn.request, None, 0
        assert request is not None
        self._selector.unregister(conn.sock)
        conn.busy = True
        with self._lock:
            self.active += 1
        pool = self._light if request.path in LIGHT_PATHS else self._pool
        pool.submit(self.serve, conn, request)

    def serve(self, conn: Connection, request: Request) -> None:
        """In a worker: answer, write, and hand a kept-alive connection back to the front."""
        keep = False
        try:
            keep = write_answer(conn, request, self.handler(request), self.closing)
        except OSError as exc:  # the client went away, or stopped reading
            log.debug("writing a response failed: %s", exc)
        except Exception:  # never a traceback to the client; the log has it
            log.exception("error answering %s %s", request.method, request.path)
        finally:
            with self._lock:
                self.active -= 1
        if not keep or self.closing:
            conn.sock.close()
        self._returned.append(conn)
        self._wake()

    def _take_back(self) -> None:
        """Connections that workers are done with: back to waiting, or forgotten if closed."""
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        now = time.monotonic()
        while self._returned:
            conn = self._returned.popleft()
            if conn.sock.fileno() < 0 or self.closing:
                conn.sock.close()
                self._conns.discard(conn)
                continue
            conn.busy = False
            conn.wait(now)
            self._selector.register(conn.sock, selectors.EVENT_READ, conn)
            if not conn.idle:  # a pipelined request came with the last one
                self._advance(conn)

    def _reject(self, conn: Connection, status: int, message: str) -> None:
        log.debug("bad request (%d): %s", status, message[:200])
        self._selector.unregister(conn.sock)
        self._conns.discard(conn)
        self._refusals.refuse(conn.sock, status, message[:200])

    def _close(self, conn: Connection) -> None:
        if not conn.busy:
            self._selector.unregister(conn.sock)
        conn.sock.close()
        self._conns.discard(conn)

    def _sweep(self, now: float) -> None:
        """Close connections past their deadline; accept again once descriptors are free."""
        for conn in [c for c in self._conns if not c.busy and c.deadline <= now]:
            log.debug("closing a connection that was %s too long", "idle" if conn.idle else "slow")
            self._close(conn)
        self._refusals.sweep(now)
        if not self._accepting:
            self._accepting = True
            self._selector.register(self._listener, selectors.EVENT_READ, None)
