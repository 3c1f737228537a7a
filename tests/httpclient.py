"""Raw-socket HTTP for tests of the exporter's HTTP front: attackers and a strict reader."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import resource
import socket
import threading
import time

STATUS_LINE = re.compile(rb"^HTTP/1\.1 (\d{3}) [^\r\n]*$")


@dataclasses.dataclass(slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def raise_open_file_limit(wanted: int = 4096) -> None:
    """Room for hundreds of attacking sockets in this process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


class Reader:
    """Reads responses one by one from a socket, failing on anything malformed."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def at_eof(self) -> bool:
        """True if the server closed the connection with nothing more to read."""
        return not self.buffer and not self._fill()

    def reply(self, head_only: bool = False) -> Reply:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise EOFError(f"connection closed mid-head: {self.buffer!r}")
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        match = STATUS_LINE.match(lines[0])
        assert match, f"malformed status line {lines[0]!r}"
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            assert sep and name == name.strip(), f"malformed header {line!r}"
            assert name.lower() not in headers, f"repeated header {name}"
            headers[name.lower()] = value.strip()
        length = int(headers["content-length"])
        if head_only:
            return Reply(int(match.group(1)), headers, b"")
        while len(self.buffer) < length:
            if not self._fill():
                raise EOFError("connection closed mid-body")
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Reply(int(match.group(1)), headers, body)


def exchange(port: int, raw: bytes, timeout: float = 10.0) -> tuple[Reply, bool]:
    """Send raw bytes on a new connection; the first reply and whether the server then closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        reader = Reader(sock)
        reply = reader.reply()
        return reply, reader.at_eof()


def timed_get(port: int, path: str, timeout: float = 30.0) -> tuple[Reply, float]:
    """GET on a new connection; the reply and how long it took, connect included."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        reply = Reader(sock).reply()
    return reply, time.monotonic() - started


class Attackers:
    """`count` connections that send a request head one byte a second, or nothing at all."""

    HEAD = b"GET /metrics HTTP/1.1\r\nHost: attacker\r\nX-Padding: " + b"a" * 200 + b"\r\n\r\n"

    def __init__(self, port: int, count: int, trickle: bool) -> None:
        self.sockets: list[socket.socket] = []
        self.stop = threading.Event()
        for _ in range(count):
            sock = socket.socket()
            sock.settimeout(5)
            with contextlib.suppress(OSError):  # an old server may refuse some: fine
                sock.connect(("127.0.0.1", port))
            self.sockets.append(sock)
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        if trickle:
            self.thread.start()

    def _trickle(self) -> None:
        sent = 0
        while not self.stop.wait(1.0):
            byte = self.HEAD[sent % len(self.HEAD) : sent % len(self.HEAD) + 1]
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.send(byte)
            sent += 1

    def close(self) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
        for sock in self.sockets:
            sock.close()
