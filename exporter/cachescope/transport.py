"""Connections to targets: TCP or Unix socket, optionally TLS, kept between scrapes."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

from cachescope.config.loader import pem_or_der, read_tls_file
from cachescope.config.records import TargetConfig
from cachescope.errors import ScrapeError, scrub
from cachescope.logs import fields

log = logging.getLogger(__name__)


def tls_context(target: TargetConfig) -> ssl.SSLContext:
    """Verification on by default; a client certificate when one is configured."""
    tls = target.credentials.tls
    # Built at every connect, so a renewed certificate is picked up; the files are
    # checked again (non-blocking, regular, bounded) as they may have changed since load.
    files = {name: _tls_file(name, path) for name, path in tls.files()}
    ca = files.get("ca_file")
    context = ssl.create_default_context(cadata=pem_or_der(ca) if ca is not None else None)
    if tls.cert_file:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _tls_file(name: str, path: str) -> bytes:
    """A TLS file's bytes; an SSLError (a 'tls' scrape error) when it is no longer usable."""
    try:
        return read_tls_file(path)
    except ValueError as exc:
        raise ssl.SSLError(f"cannot read {name} {path}: {exc}") from None


# getaddrinfo() has no timeout of its own, and with a dead resolver it can block
# for tens of seconds; we wait for it on a small pool, up to the scrape deadline.
_RESOLVER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolve")


def resolve(host: str, port: int, deadline: float) -> list[Any]:
    """Addresses for host:port, or ScrapeError('connect') if none come before the deadline."""
    future = _RESOLVER.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        return future.result(timeout=max(deadline - time.monotonic(), 0.001))
    except FutureTimeout:
        raise ScrapeError("connect", f"could not resolve {host} in time") from None
    except socket.gaierror as exc:
        raise ScrapeError("connect", f"cannot resolve {host}: {exc.strerror}") from None


def _connect_tcp(host: str, port: int, deadline: float) -> socket.socket:
    error: OSError | None = None
    for family, kind, proto, _, address in resolve(host, port, deadline):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.connect(address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise error or OSError(f"no address for {host}")


def open_socket(target: TargetConfig, deadline: float) -> socket.socket:
    """Connect to the target before `deadline` (a time.monotonic() value)."""
    endpoint = target.endpoint
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
        sock = _connect_tcp(endpoint.host, endpoint.port, deadline)
    if endpoint.tls:
        server_name = target.credentials.tls.server_name or endpoint.host
        try:
            sock = tls_context(target).wrap_socket(sock, server_hostname=server_name)
        except TimeoutError:
            sock.close()
            # A plain-text server waits for a line that a TLS hello never sends.
            raise ScrapeError(
                "tls", "no reply to the TLS handshake in time: does this port speak TLS?"
            ) from None
        except (OSError, ValueError):
            sock.close()
            raise
    return sock


class Reader(Protocol):
    def feed(self, data: bytes) -> None: ...

    def gets(self) -> Any: ...


class Connection:
    """A long-lived connection that sends a batch of commands and reads their replies.

    Subclasses say how commands are encoded, how replies are read, and what to
    do right after connecting. Network trouble closes the connection and raises
    ScrapeError; a kept-alive connection that the server or a proxy closed while
    idle is reopened once, so that it does not cost a scrape.
    """

    # What the reader's gets() returns while a reply is still incomplete.
    incomplete: object = None
    protocol_errors: tuple[type[Exception], ...] = ()

    def __init__(self, target: TargetConfig) -> None:
        self.target = target
        self._sock: socket.socket | None = None
        self._reader = self.new_reader()
        self.reset()

    def new_reader(self) -> Reader:
        raise NotImplementedError

    def encode(self, commands: Sequence[Any]) -> bytes:
        raise NotImplementedError

    def reset(self) -> None:
        """Forget what was learned on the connection; called on every (re)connect."""

    def on_connect(self, deadline: float) -> None:
        """Log in or otherwise prepare a fresh connection."""

    def close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        self._sock = None
        self._reader = self.new_reader()
        self.reset()

    def execute(self, commands: Sequence[Any], deadline: float) -> list[Any]:
        """Send the commands in one write and return their replies in order."""
        reused = self._sock is not None
        try:
            return self._attempt(commands, deadline)
        except ScrapeError as exc:
            if not (reused and exc.kind == "connect" and time.monotonic() < deadline):
                raise
            log.debug(
                "reopening a connection closed while idle", extra=fields(target=self.target.name)
            )
            return self._attempt(commands, deadline)

    def _attempt(self, commands: Sequence[Any], deadline: float) -> list[Any]:
        try:
            if self._sock is None:
                self._sock = open_socket(self.target, deadline)
                self.on_connect(deadline)
            return self.roundtrip(commands, deadline)
        except ScrapeError:
            self.close()
            raise
        except TimeoutError:
            self.close()
            raise ScrapeError("timeout", f"no reply within {self.target.timeout:g}s") from None
        except ssl.SSLError as exc:
            self.close()
            raise ScrapeError("tls", f"TLS error: {exc.reason or exc}") from None
        except self.protocol_errors as exc:
            self.close()
            raise ScrapeError("protocol", f"unexpected reply: {exc}") from None
        except OSError as exc:
            self.close()
            detail = exc.strerror or str(exc) or type(exc).__name__
            raise ScrapeError("connect", scrub(detail, self.target)) from None

    def roundtrip(self, commands: Sequence[Any], deadline: float) -> list[Any]:
        assert self._sock is not None
        self._sock.settimeout(max(deadline - time.monotonic(), 0.001))
        self._sock.sendall(self.encode(commands))
        replies: list[Any] = []
        reader, incomplete = self._reader, self.incomplete
        while len(replies) < len(commands):
            reply = reader.gets()
            if reply is not incomplete:
                replies.append(reply)
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining)
            data = self._sock.recv(65536)
            if not data:
                raise ScrapeError("connect", "server closed the connection")
            reader.feed(data)
        return replies
