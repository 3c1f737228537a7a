"""The HTTP side: /metrics, /scrape?target=, /discover, health, reload and the status page."""

from __future__ import annotations

import json
import logging
import platform
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import REGISTRY, generate_latest

from cachescope import __version__
from cachescope.exposition import GAUGE, MetricSet, render
from cachescope.fleet import Fleet, TargetNotAllowed
from cachescope.status import render_status
from cachescope.webconfig import WebConfig
from cachescope.yamlmarks import ConfigError

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TLS_HANDSHAKE_TIMEOUT = 10.0


def exporter_metrics(fleet: Fleet) -> MetricSet:
    """Facts about the exporter itself, served on /metrics."""
    metrics = MetricSet()
    labels = (("version", __version__), ("python_version", platform.python_version()))
    metrics.add("cachescope_build_info", GAUGE, "Version of cachescope, as labels.", 1, labels)
    metrics.add(
        "cachescope_targets", GAUGE, "Targets watched, discovered ones included.", len(fleet.states)
    )
    return metrics


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Prometheus reuses its connection
    server: ExporterServer

    def setup(self) -> None:
        super().setup()
        # Responses go out in one write, and without Nagle's delay: with keep-alive,
        # a small write after the headers otherwise waits for a delayed ACK (~40 ms).
        if self.connection.family != socket.AF_UNIX:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        if not self._authorized():
            return
        url = urlsplit(self.path)
        fleet = self.server.fleet
        if url.path == "/metrics":
            merged = fleet.scrape_all()
            merged.merge(exporter_metrics(fleet))
            body = render(merged.families()).encode() + generate_latest(REGISTRY)
            self._send(200, body, CONTENT_TYPE)
        elif url.path == "/scrape":
            self._scrape(fleet, parse_qs(url.query).get("target", []))
        elif url.path == "/discover":
            body = json.dumps(fleet.service_discovery(), indent=1).encode()
            self._send(200, body, "application/json")
        elif url.path == "/-/healthy":
            self._send(200, b"Healthy\n")
        elif url.path == "/-/ready":
            self._send(200, b"Ready\n")
        elif url.path == "/":
            page = render_status(list(fleet.states.values()))
            self._send(200, page.encode(), "text/html; charset=utf-8")
        else:
            self._send(404, b"Not found. See / for the endpoints.\n")

    def do_POST(self) -> None:  # noqa: N802
        if not self._authorized():
            return
        if urlsplit(self.path).path != "/-/reload":
            self._send(405, b"Only /-/reload takes POST.\n")
            return
        try:
            self.server.reload()
        except ConfigError as exc:
            self._send(400, f"reload refused, the running configuration stays: {exc}\n".encode())
            return
        self._send(200, b"Reloaded\n")

    def _authorized(self) -> bool:
        if self.server.web.authorized(self.headers.get("Authorization")):
            return True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="cachescope"')
        self.send_header("Content-Length", "13")
        self.end_headers()
        self.wfile.write(b"Unauthorized\n")
        return False

    def _scrape(self, fleet: Fleet, targets: list[str]) -> None:
        if len(targets) != 1 or not targets[0]:
            self._send(
                400, b"exactly one 'target' parameter is required, e.g. ?target=redis://host:6379\n"
            )
            return
        try:
            metrics = fleet.scrape_one(targets[0])
        except TargetNotAllowed as exc:
            self._send(400, f"{exc}\n".encode())
            return
        self._send(200, render(metrics.families()).encode(), CONTENT_TYPE)

    def _send(
        self, status: int, body: bytes, content_type: str = "text/plain; charset=utf-8"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        if log.isEnabledFor(logging.DEBUG):
            log.debug("http %s %s", self.address_string(), format % args)


class ExporterServer(ThreadingHTTPServer):
    """One thread per connection, at most `max_connections` at once, TLS if configured."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        fleet: Fleet,
        web: WebConfig | None = None,
        reload: Callable[[], None] | None = None,
        max_connections: int = 64,
    ) -> None:
        self.fleet = fleet
        self.web = web or WebConfig()
        self._reload = reload
        self._slots = threading.BoundedSemaphore(max_connections)
        self.active = 0
        self._active_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def reload(self) -> None:
        if self._reload is None:
            raise ConfigError("this exporter was started without a configuration to reload")
        self._reload()

    def process_request(self, request: Any, client_address: Any) -> None:
        # A connection beyond the limit is closed at once rather than given a thread:
        # a flood of clients must not exhaust memory or file descriptors.
        if not self._slots.acquire(blocking=False):
            log.warning("too many connections; refusing one from %s", client_address[0])
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._active_lock:
            self.active += 1
        try:
            if self.web.tls is not None:
                request = self._handshake(request)
                if request is None:
                    return
            super().process_request_thread(request, client_address)
        finally:
            with self._active_lock:
                self.active -= 1
            self._slots.release()

    def _handshake(self, request: socket.socket) -> ssl.SSLSocket | None:
        """The TLS handshake, in the connection's own thread so a slow client blocks no one."""
        assert self.web.tls is not None
        try:
            request.settimeout(TLS_HANDSHAKE_TIMEOUT)
            secure = self.web.tls.wrap_socket(request, server_side=True)
            secure.settimeout(None)
            return secure
        except (OSError, ssl.SSLError) as exc:
            log.debug("TLS handshake failed: %s", exc)
            request.close()
            return None


def parse_listen_address(text: str) -> tuple[str, int]:
    """':9808', '127.0.0.1:9808' or '[::1]:9808' -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdecimal():
        raise ValueError(f"listen address {text!r} must look like HOST:PORT or :PORT")
    return host.strip("[]"), int(port)
