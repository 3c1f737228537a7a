"""A minimal persistent Memcached text-protocol connection for stats commands.

All stats commands of a scrape go out in one write and their END-terminated
replies are read back in order: one round trip per scrape. The connection is
kept between scrapes so that scraping does not inflate the server's
`total_connections`, and is dropped on any network or protocol trouble.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Sequence

from cachescope.config import TargetConfig
from cachescope.errors import ScrapeError
from cachescope.memcached.parse import ProtocolError, ReplyError, ReplyReader, Stats

Reply = Stats | ReplyError


def _tls_context(target: TargetConfig) -> ssl.SSLContext:
    tls = target.credentials.tls
    context = ssl.create_default_context(cafile=tls.ca_file)
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class MemcachedConnection:
    """One long-lived connection to one Memcached server."""

    def __init__(self, target: TargetConfig) -> None:
        self.target = target
        self._sock: socket.socket | None = None
        self._reader = ReplyReader()
        # Stats subcommands the server answered with an error (an older server, or
        # a proxy); not sent again until we reconnect.
        self.unavailable: set[str] = set()

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None
        self._reader = ReplyReader()
        self.unavailable = set()

    def execute(self, commands: Sequence[str], deadline: float) -> list[Reply]:
        """Send the commands in one write and return their replies in order.

        Error lines come back as `ReplyError` values; network or protocol trouble
        closes the connection and raises ScrapeError.
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
        except ProtocolError as exc:
            self.close()
            raise ScrapeError("protocol", f"not a memcached stats reply: {exc}") from None
        except OSError as exc:
            self.close()
            raise ScrapeError("connect", exc.strerror or str(exc) or type(exc).__name__) from None

    def _connect(self, deadline: float) -> None:
        endpoint = self.target.endpoint
        timeout = max(deadline - time.monotonic(), 0.001)
        if endpoint.is_unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(endpoint.path)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if endpoint.tls:
            server_name = self.target.credentials.tls.server_name or endpoint.host
            try:
                sock = _tls_context(self.target).wrap_socket(sock, server_hostname=server_name)
            except (OSError, ValueError):
                sock.close()
                raise
        self._sock = sock
        self._reader = ReplyReader()

    def _roundtrip(self, commands: Sequence[str], deadline: float) -> list[Reply]:
        assert self._sock is not None
        self._sock.settimeout(max(deadline - time.monotonic(), 0.001))
        self._sock.sendall("".join(f"{command}\r\n" for command in commands).encode())
        replies: list[Reply] = []
        while len(replies) < len(commands):
            reply = self._reader.gets()
            if reply is not None:
                replies.append(reply)
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            data = self._sock.recv(65536)
            if not data:
                raise ScrapeError("connect", "server closed the connection mid-reply")
            self._reader.feed(data)
        return replies
