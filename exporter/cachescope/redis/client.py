"""A minimal persistent RESP2 connection: pipeline commands, read raw replies.

We speak the protocol over a plain socket with hiredis' reader instead of
redis-py: a scrape is a fixed pipeline whose replies we parse ourselves, and
redis-py's per-reply machinery (and the commands it sends on connect, such as
CLIENT SETINFO, which Redis 7.0 answers with an error) cost more than the
round trip itself.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Sequence
from typing import Any

import hiredis

from cachescope.config import TargetConfig
from cachescope.errors import ScrapeError, scrub

Command = Sequence[str | bytes | int]
ReplyError = hiredis.ReplyError
_pack: Any = hiredis.pack_command  # its stub is narrower than what it accepts


def _tls_context(target: TargetConfig) -> ssl.SSLContext:
    tls = target.credentials.tls
    context = ssl.create_default_context(cafile=tls.ca_file)
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class RedisConnection:
    """One long-lived connection to one Redis server."""

    def __init__(self, target: TargetConfig) -> None:
        self.target = target
        self._sock: socket.socket | None = None
        self._reader = hiredis.Reader()
        # Commands the server refused as unknown or forbidden on this connection;
        # we stop sending them until we reconnect so we do not inflate its error stats.
        self.unavailable: set[str] = set()
        # What the server is ('standalone', 'cluster', 'sentinel'), learned from
        # INFO on this connection, and the master sets a sentinel watches.
        self.mode: str | None = None
        self.masters: list[str] = []

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None
        self._reader = hiredis.Reader()
        self.unavailable = set()
        self.mode = None
        self.masters = []

    def execute(self, commands: Sequence[Command], deadline: float) -> list[object]:
        """Send the commands in one pipeline and return their replies in order.

        Error replies come back as `ReplyError` values, not exceptions. Network
        trouble closes the connection and raises ScrapeError.
        """
        try:
            if self._sock is None:
                self._connect(deadline)
            return self._roundtrip(commands, deadline)
        except ScrapeError:
            self.close()
            raise
        except TimeoutError:
            self.close()
            raise ScrapeError("timeout", f"no reply within {self.target.timeout:g}s") from None
        except ssl.SSLError as exc:
            self.close()
            raise ScrapeError("tls", f"TLS error: {exc.reason or exc}") from None
        except (OSError, hiredis.ProtocolError) as exc:
            self.close()
            kind = "protocol" if isinstance(exc, hiredis.ProtocolError) else "connect"
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise ScrapeError(kind, scrub(detail or type(exc).__name__, self.target)) from None

    def _connect(self, deadline: float) -> None:
        endpoint = self.target.endpoint
        timeout = max(deadline - time.monotonic(), 0.001)
        if endpoint.is_unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(endpoint.path)
        else:
            sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if endpoint.tls:
            server_name = self.target.credentials.tls.server_name or endpoint.host
            sock = _tls_context(self.target).wrap_socket(sock, server_hostname=server_name)
        self._sock = sock
        self._reader = hiredis.Reader()
        self._handshake(deadline)

    def _handshake(self, deadline: float) -> None:
        creds = self.target.credentials
        commands: list[Command] = []
        if creds.password is not None:
            auth: list[str | bytes | int] = ["AUTH"]
            if creds.username:
                auth.append(creds.username)
            commands.append(auth + [creds.password.reveal()])
        # Naming the connection lets operators tell our scrapes apart in CLIENT LIST.
        commands.append(("CLIENT", "SETNAME", "cachescope"))
        replies = self._roundtrip(commands, deadline)
        if creds.password is not None and isinstance(replies[0], ReplyError):
            raise ScrapeError(
                "auth", f"authentication failed: {scrub(str(replies[0]), self.target)}"
            )

    def _roundtrip(self, commands: Sequence[Command], deadline: float) -> list[object]:
        assert self._sock is not None
        payload = b"".join(_pack(tuple(command)) for command in commands)
        self._sock.settimeout(max(deadline - time.monotonic(), 0.001))
        self._sock.sendall(payload)
        replies: list[object] = []
        reader = self._reader
        while len(replies) < len(commands):
            reply = reader.gets()
            if reply is False:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                self._sock.settimeout(remaining)
                data = self._sock.recv(65536)
                if not data:
                    raise ScrapeError("connect", "server closed the connection")
                reader.feed(data)
                continue
            replies.append(reply)
        return replies
