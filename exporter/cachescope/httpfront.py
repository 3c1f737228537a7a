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
from cachescope.httpwire import MAX_BODY, MAX_HEAD, BadRequest, Request, complaint, from_event

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
                try:
                    for key, _ in self._selector.select(0.5):
                        self._on_ready(key.data)
                    now = time.monotonic()
                    if now >= next_sweep:
                        next_sweep = now + 0.5
                        self._sweep(now)
                except Exception as exc:  # a bug of ours must not take the port down
                    log.warning("HTTP front: unexpected %s: %s", type(exc).__name__, exc)
                    self._stop.wait(0.05)  # no busy loop should it persist
        finally:
            self._stopped.set()

    def _on_ready(self, data: object) -> None:
        """One ready socket; whatever goes wrong with it ends that connection, not the loop."""
        try:
            if data is None:
                self._accept()
            elif data is self._wake_r:
                self._take_back()
            elif isinstance(data, Lingering):
                self._refusals.drain(data)
            elif isinstance(data, Connection) and not data.closed:  # closed earlier this batch
                self._on_event(data)
        except Exception as exc:
            log.warning("HTTP front: dropping a connection: %s: %s", type(exc).__name__, exc)
            if isinstance(data, Lingering):
                self._refusals.forget(data)
            elif isinstance(data, Connection) and not data.busy:
                self._close(data)

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
            try:
                self._admit(sock)
            except OSError as exc:  # gone already (reset before we looked): its loss alone
                log.debug("dropping a new connection: %s", exc)
                sock.close()

    def _admit(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        if sock.family != socket.AF_UNIX:  # no Nagle delay on keep-alive responses
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if len(self._conns) >= self.max_connections and not self._evict():
            log.warning("too many HTTP connections (%d); refusing one", len(self._conns))
            self._refusals.too_many(sock, tls=self._tls is not None)
            return
        now = time.monotonic()
        handshaking = self._tls is not None
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        conn = Connection(
            sock=sock,
            fd=sock.fileno(),
            http=http,
            deadline=now + HEAD_TIMEOUT,
            since=now,
            handshaking=handshaking,
        )
        self._conns.add(conn)
        self._watch(conn)
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
            self._selector.modify(conn.fd, events, conn)
            return
        except OSError as exc:
            log.debug("TLS handshake failed: %s", exc)
            self._close(conn)
            return
        conn.handshaking = False
        self._selector.modify(conn.fd, selectors.EVENT_READ, conn)
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
        conn.heard = True
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
                self._reject(conn, exc.error_status_hint, complaint(str(exc)))
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
                if conn.closed:
                    return
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                self._close(conn)
                return

    def _inline(self, conn: Connection) -> bool:
        """Answer here what costs nothing (health), rather than hand it to a worker."""
        request = conn.request
        try:
            answer = self.quick(request) if self.quick and request else None
        except Exception:  # a worker answers it then, with the handler's own error path
            log.warning("HTTP front: the quick answer to %s failed", request and request.path)
            answer = None
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
        self._unwatch(conn)
        conn.busy = True
        with self._lock:
            self.active += 1
        pool = self._light if request.path in LIGHT_PATHS else self._pool
        try:
            pool.submit(self.serve, conn, request)
        except RuntimeError:  # the pools are shut down: the front is closing
            with self._lock:
                self.active -= 1
            conn.busy = False
            self._close(conn)

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
            conn.closed = True  # the worker owns it until it is returned
            with contextlib.suppress(OSError):
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
            conn.busy = False
            if conn.closed or self.closing:
                self._close(conn)
                continue
            try:
                conn.wait(now)
                self._watch(conn)
                if not conn.idle:  # a pipelined request came with the last one
                    self._advance(conn)
            except Exception as exc:  # the rest of the returned still go back
                log.warning("HTTP front: dropping a connection: %s: %s", type(exc).__name__, exc)
                self._close(conn)

    def _reject(self, conn: Connection, status: int, message: str) -> None:
        """Answer an error and close: the refusal lingers on, the connection is done."""
        log.debug("bad request (%d): %s", status, message)
        self._unwatch(conn)
        self._conns.discard(conn)
        conn.closed = True
        self._refusals.refuse(conn.sock, status, message)

    def _watch(self, conn: Connection) -> None:
        self._selector.register(conn.fd, selectors.EVENT_READ, conn)
        conn.registered = True

    def _unwatch(self, conn: Connection) -> None:
        # By its recorded fd, and only if ours: a closed socket's number may be another's now.
        if conn.registered:
            conn.registered = False
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(conn.fd)

    def _close(self, conn: Connection) -> None:
        """Forget a connection and close its socket, once; never one a worker owns."""
        if conn.busy:
            return
        self._unwatch(conn)  # before the close, while the fd is still this socket's
        self._conns.discard(conn)
        if not conn.closed:  # else closed by its worker, or its socket is a refusal's now
            conn.closed = True
            with contextlib.suppress(OSError):
                conn.sock.close()

    def _sweep(self, now: float) -> None:
        """Close connections past their deadline; accept again once descriptors are free."""
        for conn in [c for c in self._conns if not c.busy and c.deadline <= now]:
            if conn.heard and not conn.handshaking:  # part of a head came: say why we close
                log.debug("answering 408 to a connection slow to send its request")
                self._reject(conn, 408, "request not received in time")
            else:
                log.debug(
                    "closing a connection that was %s too long", "idle" if conn.idle else "slow"
                )
                self._close(conn)
        self._refusals.sweep(now)
        if not self._accepting:
            self._accepting = True
            self._selector.register(self._listener, selectors.EVENT_READ, None)
