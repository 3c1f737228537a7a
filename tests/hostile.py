"""Tiny misbehaving TCP servers, for the hostile targets no real server reproduces.

Each listens on a free loopback port and serves every connection in a
background thread with one behaviour: speak HTTP, say nothing, hang up, cut a
reply mid-way, send garbage, or refuse every command with one Redis error.
Everything received is recorded, so a test can also prove what was (not) sent.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from collections.abc import Callable

import hiredis

# What a behaviour answers to one Redis command (a list of bytes arguments):
# bytes to send, b"" to say nothing, or None to stop answering and stall.
RedisAnswer = Callable[[list[bytes]], "bytes | None"]

HTTP_400 = (
    b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
    b"Connection: close\r\n\r\nBad Request\n"
)
# Not RESP: a reply must start with one of + - : $ *, and these bytes do not.
GARBAGE = b"\x00\x17\xfe\xffnot a redis reply\r\n\x8f\x00"
LOADING = b"-LOADING Redis is loading the dataset in memory\r\n"
BUSY = (
    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n"
)
NOAUTH = b"-NOAUTH Authentication required.\r\n"


class HostileServer:
    """Accepts connections on 127.0.0.1 and runs `behaviour(conn, server)` for each."""

    def __init__(self, behaviour: Callable[[socket.socket, HostileServer], None]) -> None:
        self.behaviour = behaviour
        self.received = bytearray()
        self.connections = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port = int(self.sock.getsockname()[1])
        self._accepter = threading.Thread(target=self._accept, name=f"hostile-{self.port}")
        self._accepter.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.connections += 1
                self._open.append(conn)
                thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.settimeout(0.05)
            self.behaviour(conn, self)
        with contextlib.suppress(OSError):
            conn.close()

    def recv(self, conn: socket.socket) -> bytes | None:
        """Bytes the peer sent, b"" when it closed, None when we are stopping."""
        while not self.stopping.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            with self._lock:
                self.received += data
            return data
        return None

    def send(self, conn: socket.socket, data: bytes) -> None:
        """Send all of `data`, however slowly the peer reads it.

        The connection's 0.05 s timeout is for noticing the stop between reads; a
        sendall() under it gives up on a 30 MB reply as soon as the peer pauses
        for 50 ms, and the peer then sees a cut connection instead of the reply.
        """
        conn.settimeout(30)
        try:
            conn.sendall(data)
        finally:
            conn.settimeout(0.05)

    def stall(self, conn: socket.socket) -> None:
        """Keep the connection open, reading and recording, until the server stops."""
        while (data := self.recv(conn)) is not None and data:
            pass
        if data == b"":  # the peer gave up: wait for the stop like a hung server would
            self.stopping.wait()

    def stop(self) -> None:
        """Close every connection and wait for every thread; raise if one is stuck."""
        self.stopping.set()
        self._accepter.join(timeout=5)
        self.sock.close()
        with self._lock:
            threads, conns = list(self._threads), list(self._open)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)
        stuck = [t for t in threads + [self._accepter] if t.is_alive()]
        if stuck:
            raise RuntimeError(f"hostile server on port {self.port}: {len(stuck)} threads stuck")


# Behaviours: each gets a fresh connection and the server that accepted it.


def speaks_http(conn: socket.socket, server: HostileServer) -> None:
    """Answer whatever arrives with an HTTP 400, as a web server on the wrong port would."""
    if server.recv(conn):
        conn.sendall(HTTP_400)


def never_answers(conn: socket.socket, server: HostileServer) -> None:
    """Accept, read everything, answer nothing."""
    server.stall(conn)


def hangs_up(conn: socket.socket, server: HostileServer) -> None:
    """Accept and close at once."""


def sends_garbage(conn: socket.socket, server: HostileServer) -> None:
    """Answer with bytes that are not RESP, then keep the connection open."""
    if server.recv(conn):
        conn.sendall(GARBAGE)
        server.stall(conn)


def redis_like(answer: RedisAnswer) -> Callable[[socket.socket, HostileServer], None]:
    """A behaviour that reads RESP commands and answers each with `answer(command)`."""

    def behaviour(conn: socket.socket, server: HostileServer) -> None:
        reader = hiredis.Reader()
        while data := server.recv(conn):
            reader.feed(data)
            while (command := reader.gets()) is not False:
                reply = answer(command)
                if reply is None:
                    server.stall(conn)
                    return
                server.send(conn, reply)

    return behaviour


def refuses_everything(error: bytes) -> Callable[[socket.socket, HostileServer], None]:
    """Answer every command with one error reply, e.g. LOADING, BUSY or NOAUTH."""
    return redis_like(lambda command: error)


INFO_HEAD = b"# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nrole:master\r\n"


def cuts_info_reply(conn: socket.socket, server: HostileServer) -> None:
    """Log in fine, then announce a 4 KiB INFO reply, send 60 bytes of it and stall."""

    def answer(command: list[bytes]) -> bytes | None:
        if command[0].upper() in (b"AUTH", b"CLIENT", b"PING"):
            return b"+OK\r\n"
        conn.sendall(b"$4096\r\n" + INFO_HEAD[:60])
        return None

    redis_like(answer)(conn, server)


def memcached_cuts_stats_reply(conn: socket.socket, server: HostileServer) -> None:
    """Answer `stats` with a few STAT lines, stop in the middle of one, and stall."""
    if server.recv(conn):
        conn.sendall(b"STAT pid 4242\r\nSTAT uptime 17\r\nSTAT curr_conn")
        server.stall(conn)


def trickles_tls_handshake(conn: socket.socket, server: HostileServer) -> None:
    """Answer a ClientHello with a 16 KiB TLS record, one byte every 0.3 s.

    Each byte comes well within any socket timeout, so a client that bounds only
    single reads, not the whole handshake, waits for about 80 minutes.
    """
    if not server.recv(conn):
        return
    conn.sendall(b"\x16\x03\x03\x40\x00")  # handshake record, TLS 1.2, 16384 bytes follow
    while not server.stopping.wait(0.3):
        conn.sendall(b"\x02")


def _stream(conn: socket.socket, server: HostileServer, block: bytes) -> None:
    """Send `block` again and again until the peer hangs up or the server stops.

    send(), not sendall(): a timed-out sendall() may have sent part of a block,
    and the stream must stay well-formed RESP wherever the reader stops.
    """
    view, offset = memoryview(block), 0
    while not server.stopping.is_set():
        try:
            offset += conn.send(view[offset:])
        except TimeoutError:
            continue
        if offset == len(block):
            offset = 0


def floods_info_reply(head: bytes, block: bytes) -> Callable[[socket.socket, HostileServer], None]:
    """Log in fine, then answer INFO with `head` and `block` streamed without end.

    For replies that announce more than any server sends, e.g. `$9223372036854775807`,
    or an array whose elements never stop coming.
    """

    def behaviour(conn: socket.socket, server: HostileServer) -> None:
        def answer(command: list[bytes]) -> bytes | None:
            if command[0].upper() != b"INFO":
                return b"+OK\r\n"
            conn.sendall(head)
            _stream(conn, server, block)
            return None

        redis_like(answer)(conn, server)

    return behaviour


HUGE_BULK = floods_info_reply(b"$9223372036854775807\r\n", b"x" * 65536)
HUGE_ARRAY = floods_info_reply(b"*2147483647\r\n", b":1\r\n" * 16384)
# A million elements is within any cap on one array, but of 1000 bytes each they
# would be a gigabyte: only a cap on the bytes of the round trip stops them.
ENDLESS_ELEMENTS = floods_info_reply(b"*1000000\r\n", (b"$1000\r\n" + b"e" * 1000 + b"\r\n") * 60)
# Arrays of arrays, each announcing 100,000: small one by one, 10^10 elements in all.
NESTED_ARRAYS = floods_info_reply(b"*100000\r\n", b"*100000\r\n" + b"+element\r\n" * 100_000)


def renames_info_fields(count: int) -> Callable[[socket.socket, HostileServer], None]:
    """Answer INFO with `count` numeric fields, commands and errors, all renamed on every call.

    Every other command is refused, as a proxy would. Whatever the exporter keeps per
    name (metric names, HELP lines, rendered labels) it would keep anew each scrape.
    """
    calls = itertools.count()

    def answer(command: list[bytes]) -> bytes:
        if command[0].upper() != b"INFO":
            return b"-ERR unknown command\r\n"
        n = next(calls)
        lines = [INFO_HEAD, b"# Other\r\n"]
        lines += [b"field_%d_%d:%d\r\n" % (n, i, i) for i in range(count)]
        lines.append(b"# Commandstats\r\n")
        lines += [
            b"cmdstat_c%d_%d:calls=%d,usec=1,usec_per_call=1.00\r\n" % (n, i, i)
            for i in range(count // 10)
        ]
        lines.append(b"# Errorstats\r\n")
        lines += [b"errorstat_E%d_%d:count=1\r\n" % (n, i) for i in range(count // 10)]
        lines.append(b"# Latencystats\r\n")
        lines += [
            b"latency_percentiles_usec_c%d_%d:p50=%d.001\r\n" % (n, i, i)
            for i in range(count // 10)
        ]
        body = b"".join(lines)
        return b"$%d\r\n%s\r\n" % (len(body), body)

    return redis_like(answer)


def answers_info_with_tiny_fields(count: int) -> Callable[[socket.socket, HostileServer], None]:
    """Answer INFO with `count` fields of a few bytes each ('f12:12'), all in one reply."""
    reply: list[bytes] = []  # built on first use: 30 MB is no cost to tests that skip it

    def answer(command: list[bytes]) -> bytes:
        if command[0].upper() != b"INFO":
            return b"-ERR unknown command\r\n"
        if not reply:
            body = INFO_HEAD + b"".join(b"f%d:%d\r\n" % (i, i) for i in range(count))
            reply.append(b"$%d\r\n%s\r\n" % (len(body), body))
        return reply[0]

    return redis_like(answer)


# What a memcached without -Y answers, one slab class in use; every command is recorded
# in server.received, so a test can tell which stats subcommands were sent.
MEMCACHED_REPLIES = {
    b"version": b"VERSION 1.6.18\r\n",
    b"stats": b"STAT pid 42\r\nSTAT uptime 7\r\nSTAT curr_items 3\r\nEND\r\n",
    b"stats settings": b"STAT maxconns 1024\r\nEND\r\n",
    b"stats slabs": b"STAT 1:chunk_size 96\r\nSTAT active_slabs 1\r\nEND\r\n",
    b"stats items": b"STAT items:1:number 3\r\nEND\r\n",
}


def memcached_answering(
    replies: dict[bytes, bytes],
) -> Callable[[socket.socket, HostileServer], None]:
    """Answer each command line from `replies`, anything else with ERROR."""

    def behaviour(conn: socket.socket, server: HostileServer) -> None:
        pending = b""
        while (data := server.recv(conn)) is not None and data:
            pending += data
            *lines, pending = pending.split(b"\r\n")
            conn.sendall(b"".join(replies.get(line, b"ERROR\r\n") for line in lines))

    return behaviour


memcached_like = memcached_answering(MEMCACHED_REPLIES)
