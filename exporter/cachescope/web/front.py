"""The HTTP front: threads share one epoll set, and the thread that reads a request answers it.

A thread per connection let 64 clients that send a byte a second, or nothing,
hold every slot. Here a connection costs a file descriptor until its request
is complete: a thread only reads what has arrived, deadlines close the
connections slow to send a head or idle too long, and when the connections are
all taken the oldest idle or slow one makes room.

Health and readiness are answered at once by the thread that read them (they
ask no password: docs/security.md). Other requests wait for a slot in a lane
(scrapes, or anything else sent to the health paths), so that health is never
queued behind scrapes, and two threads beyond the slots keep reading and
accepting whatever the lanes hold.
The thread that read a request answers it and re-arms its connection itself:
there is no hand-off between threads, which cost more than h11's parsing.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable

import h11

from cachescope.logs import fields
from cachescope.textcache import TextCache
from cachescope.web.conn import (
    HEAD_TIMEOUT,
    Answer,
    Connection,
    Handler,
    answer_now,
    next_cycle,
    outgoing,
    receive,
)
from cachescope.web.encoding import Encodings, negotiate
from cachescope.web.poll import Lane
from cachescope.web.registry import Registry
from cachescope.web.wire import MAX_BODY, BadRequest, Request, complaint, from_event
from cachescope.web.write import push, push_blocking

log = logging.getLogger(__name__)

REQUEST_SLOTS = 64  # requests answered at once: the old connection limit
LIGHT_SLOTS = 2  # other methods on the health paths: never behind a scrape
SPARE_THREADS = 2  # always waiting on the epoll set, whatever the lanes hold
LIGHT_PATHS = frozenset({"/-/healthy", "/-/ready"})
HEADS_CACHED, HEADS_BYTES = 1024, 4 << 20  # parsed request heads, by their bytes
Queued = tuple[Connection, Request]


class Front:
    """Serves `handler`'s answers on `listener` until shutdown()."""

    def __init__(
        self,
        listener: socket.socket,
        handler: Handler,
        tls: ssl.SSLContext | None,
        web_max_connections: int,
        quick: Callable[[Request], Answer | None] | None = None,
    ) -> None:
        self.handler, self.quick = handler, quick
        self._registry = Registry(listener, tls, web_max_connections)
        self._lock = threading.Lock()  # the counts below and the head cache
        self._serving = 0  # requests being answered
        self._lanes: tuple[Lane[Queued], Lane[Queued]] = (Lane(REQUEST_SLOTS), Lane(LIGHT_SLOTS))
        self._threads, self._waiting = 0, 0  # all, and those not inside a lane
        self._heads: TextCache[bytes, Request] = TextCache(HEADS_CACHED, HEADS_BYTES)
        self._stop = threading.Event()
        self._next_sweep = 0.0
        self._sweeping = threading.Lock()
        self.encodings = Encodings()  # handler answers sent, gzipped or not

    @property
    def closing(self) -> bool:
        return self._registry.closing

    @property
    def active(self) -> int:
        """Requests being answered, or their responses written."""
        return self._serving + len(self._registry.parked)

    def use_tls(self, tls: ssl.SSLContext | None) -> None:
        """New connections get this TLS context (or plain HTTP)."""
        self._registry.use_tls(tls)

    def serve_forever(self) -> None:
        """Start the threads and return at shutdown()."""
        self._stop.clear()
        with self._lock:
            for _ in range(SPARE_THREADS):
                self._spawn()
        self._stop.wait()

    def shutdown(self) -> None:
        """Make serve_forever() return; threads answering a request finish it."""
        self._stop.set()

    def close(self) -> None:
        """Stop listening and close every connection no thread owns; the owners finish theirs."""
        self._registry.shut()

    def _spawn(self) -> None:
        """One more thread on the epoll set (under the lock)."""
        self._threads += 1
        self._waiting += 1
        threading.Thread(target=self._run, name=f"http-{self._threads}", daemon=True).start()

    def _run(self) -> None:
        registry = self._registry
        while not self._stop.is_set() or registry.parked:  # after shutdown, finish those
            try:
                owner = registry.poller.wait(0.5)
                conn = registry.claim(owner) if owner is not None else None
                if conn is not None:
                    self._on_ready(conn)
                self._maybe_sweep()
            except Exception as exc:  # a bug of ours must not take the port down
                log.warning(
                    "HTTP front: unexpected error",
                    extra=fields(error=type(exc).__name__, detail=str(exc)),
                )
                self._stop.wait(0.05)  # no busy loop should it persist

    def _on_ready(self, conn: Connection) -> None:
        """A connection this thread now owns; what goes wrong with it ends it, not the thread."""
        try:
            self._on_event(conn)
        except Exception as exc:
            log.warning(
                "HTTP front: dropping a connection",
                extra=fields(error=type(exc).__name__, detail=str(exc)),
            )
            self._registry.close(conn)

    def _on_event(self, conn: Connection) -> None:
        """Read what came for a connection this thread owns, and answer what is complete."""
        if conn.handshaking:
            self._handshake(conn)
            return
        if conn.outgoing is not None:
            self._resume(conn)
            return
        data = receive(conn.sock)
        if data is None:
            self._registry.release(conn)
            return
        if not data:
            self._registry.close(conn)
            return
        if conn.idle:  # a new request begins: it has HEAD_TIMEOUT to arrive whole
            now = time.monotonic()
            conn.idle, conn.deadline, conn.since = False, now + HEAD_TIMEOUT, now
        conn.heard = True
        fresh = conn.http.their_state is h11.IDLE and not conn.http.trailing_data[0]
        if fresh and (request := self._heads.get(data)) is not None:
            if self._answer(conn, request, queue_only=False):
                self._registry.release(conn)
            return
        conn.whole = data if fresh else None
        conn.http.receive_data(data)
        self._advance(conn)

    def _handshake(self, conn: Connection) -> None:
        assert isinstance(conn.sock, ssl.SSLSocket)
        try:
            conn.sock.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError) as exc:
            self._registry.release(conn, write=isinstance(exc, ssl.SSLWantWriteError))
            return
        except OSError as exc:
            log.debug("TLS handshake failed", extra=fields(error=str(exc)))
            self._registry.close(conn)
            return
        conn.handshaking = False
        self._on_event(conn)  # the request may have come with the handshake's last flight

    def _advance(self, conn: Connection, queue_only: bool = False) -> None:
        """Feed h11's events on and answer each complete request, until more data is needed."""
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
                self._registry.reject(conn, exc.error_status_hint, complaint(str(exc)))
                return
            except BadRequest as exc:
                self._registry.reject(conn, exc.status, str(exc))
                return
            if event is h11.NEED_DATA:
                self._registry.release(conn)
                return
            if isinstance(event, h11.EndOfMessage):
                request, conn.request = conn.request, None
                assert request is not None
                self._remember(conn, request)
                conn.body = 0
                if not self._answer(conn, request, queue_only):
                    return
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                self._registry.close(conn)
                return

    def _remember(self, conn: Connection, request: Request) -> None:
        """Keep the parsed head of a request that came whole, in one read, without a body.

        Prometheus sends the same bytes for a target at every scrape: h11 parses
        them once. A fresh parser given the same bytes gives the same request.
        """
        whole, conn.whole = conn.whole, None
        if whole is not None and conn.body == 0 and not conn.http.trailing_data[0]:
            with self._lock:
                self._heads.remember(whole, request, len(whole))

    def _answer(self, conn: Connection, request: Request, queue_only: bool) -> bool:
        """Answer one request; True if the connection is still this thread's to go on with."""
        answer = self._quick(request)
        if answer is not None:
            if answer_now(conn, request, answer, self.closing):
                conn.wait(time.monotonic())
                return True
            self._registry.close(conn)
            return False
        lane = self._lanes[request.path in LIGHT_PATHS]
        if queue_only:
            lane.wait((conn, request))
            return False
        if not lane.enter_or_wait((conn, request)):
            return False  # the thread that frees a slot answers it
        with self._lock:
            self._waiting -= 1
            if self._waiting < SPARE_THREADS:
                self._spawn()
        try:
            keep = self._serve(conn, request)
            while (queued := lane.next_or_leave()) is not None:
                self._finish(*queued)
        finally:
            with self._lock:
                self._waiting += 1
        if keep is None:  # parked: the rest of its response is sent as the client reads
            return False
        return self._kept(conn, keep)

    def _kept(self, conn: Connection, keep: bool) -> bool:
        """After a response: wait for the next request if the connection stays, else close."""
        if keep:
            conn.wait(time.monotonic())
        else:
            self._registry.close(conn)
        return keep

    def _quick(self, request: Request) -> Answer | None:
        """An answer that costs nothing (health: no password asked), or None."""
        try:
            return self.quick(request) if self.quick else None
        except Exception:  # a lane answers it then, with the handler's own error path
            log.warning("HTTP front: the quick answer failed", extra=fields(path=request.path))
            return None

    def _finish(self, conn: Connection, request: Request) -> None:
        """Answer a request that waited for a slot, and put its connection back to waiting."""
        try:
            keep = self._serve(conn, request)
            if keep is not None and self._kept(conn, keep):
                self._advance(conn, queue_only=True)  # a pipelined request queues again
            return
        except Exception as exc:  # the slot must go on to the next in line
            log.warning(
                "HTTP front: dropping a connection",
                extra=fields(error=type(exc).__name__, detail=str(exc)),
            )
        self._registry.close(conn)

    def _serve(self, conn: Connection, request: Request) -> bool | None:
        """Answer and write; True if the connection stays, None if the rest waits (parked)."""
        with self._lock:
            self._serving += 1
        try:
            answer = negotiate(request, self.handler(request), self.encodings)
            out = outgoing(request, answer, self.closing)
            done = push(conn.sock, out)
            if done is None and self._registry.park(conn, out):
                return None
            if done is None:  # too much is parked already: this thread waits, as it used to
                done = push_blocking(conn.sock, out)
            return done and out.keep and next_cycle(conn)
        except OSError as exc:  # the client went away, or stopped reading
            log.debug("writing a response failed", extra=fields(error=str(exc)))
        except Exception:  # never a traceback to the client; the log has it
            log.exception("error answering", extra=fields(method=request.method, path=request.path))
        finally:
            with self._lock:
                self._serving -= 1
        return False

    def _resume(self, conn: Connection) -> None:
        """The socket of a parked response takes more: send it, then go on with the connection."""
        out = conn.outgoing
        assert out is not None
        left = out.left
        try:
            done = push(conn.sock, out) if time.monotonic() <= out.give_up else False
        except OSError as exc:
            log.debug("writing a response failed", extra=fields(error=str(exc)))
            done = False
        if done is None:
            self._registry.wait_to_write(conn, progressed=out.left < left)
            return
        self._registry.unpark(conn)
        if self._kept(conn, bool(done) and out.keep and not self.closing and next_cycle(conn)):
            self._advance(conn)

    def _maybe_sweep(self) -> None:
        """Once every half second, by whichever thread comes first."""
        now = time.monotonic()
        if now < self._next_sweep or not self._sweeping.acquire(blocking=False):
            return
        try:
            self._next_sweep = now + 0.5
            self._registry.sweep(now)
        finally:
            self._sweeping.release()
