"""The HTTP side: /metrics, /scrape?target=, /discover, health, reload and the status page."""

from __future__ import annotations

import itertools
import json
import logging
import platform
import socket
import ssl
import threading
from collections.abc import Callable, Iterable, Iterator
from http.server import ThreadingHTTPServer
from socketserver import StreamRequestHandler
from typing import Any

from prometheus_client import REGISTRY, generate_latest

from cachescope import __version__
from cachescope.exposition import COUNTER, GAUGE, MetricSet, render_bytes
from cachescope.fleet import Fleet, TargetNotAllowed
from cachescope.httpwire import BadRequest, Request, head, read_request, response
from cachescope.joined import Chunk
from cachescope.status import render_status
from cachescope.webconfig import WebConfig
from cachescope.yamlmarks import ConfigError

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
HTML = "text/html; charset=utf-8"
IDLE_TIMEOUT = 120.0
Streamed = tuple[int, Iterable[Chunk]]  # a large body: its size, and its pieces as they come
Answer = tuple[int, bytes | Streamed, str, dict[str, str]]
TLS_HANDSHAKE_TIMEOUT = 10.0


def exporter_metrics(fleet: Fleet) -> MetricSet:
    """Facts about the exporter itself, served on /metrics."""
    metrics = MetricSet()
    labels = (("version", __version__), ("python_version", platform.python_version()))
    metrics.add("cachescope_build_info", GAUGE, "Version of cachescope, as labels.", 1, labels)
    metrics.add(
        "cachescope_targets", GAUGE, "Targets watched, discovered ones included.", len(fleet.states)
    )
    workers = fleet.workers
    metrics.add(
        "cachescope_scrape_processes",
        GAUGE,
        "Processes scraping the targets of /metrics: this one, and workers.",
        workers.processes if workers is not None else 1,
    )
    metrics.add(
        "cachescope_scrape_worker_restarts_total",
        COUNTER,
        "Scrape worker processes replaced because they died or did not answer in time.",
        workers.restarts if workers is not None else 0,
    )
    return metrics


class Handler(StreamRequestHandler):
    """One client connection: requests answered in turn while it stays open."""

    server: ExporterServer
    timeout = IDLE_TIMEOUT  # an idle keep-alive connection gives its slot back

    def setup(self) -> None:
        super().setup()
        # Without Nagle's delay: with keep-alive, a response otherwise may wait
        # for the client's delayed ACK (~40 ms).
        if self.connection.family != socket.AF_UNIX:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle(self) -> None:
        while True:
            try:
                request = read_request(self.rfile)
            except BadRequest as exc:
                self.wfile.write(response(exc.status, f"{exc}\n".encode(), keep_alive=False))
                return
            except OSError:  # the client went away or idled out
                return
            if request is None:
                return
            # A helper, so the response is freed once sent: held while the connection
            # waits for its next request, a fleet's /metrics would double peak memory.
            status = self._respond(request)
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "http %s %s %s %d", self.client_address[0], request.method, request.path, status
                )
            if not request.keep_alive:
                return

    def _respond(self, request: Request) -> int:
        status, body, content_type, headers = self._answer(request)
        if isinstance(body, bytes):  # small: one write
            self.wfile.write(response(status, body, content_type, headers, request.keep_alive))
        else:  # a fleet's /metrics: its pieces as they are, no joined copy
            length, chunks = body
            self.wfile.write(head(status, length, content_type, headers, request.keep_alive))
            for block in _blocks(chunks):
                self.wfile.write(block)
        return status

    def _answer(self, request: Request) -> Answer:
        if not self.server.web.authorized(request.headers.get("authorization")):
            return 401, b"Unauthorized\n", TEXT, {"WWW-Authenticate": 'Basic realm="cachescope"'}
        if request.method == "POST":
            return self._post(request)
        if request.method != "GET":
            return 405, b"Only GET, and POST to /-/reload.\n", TEXT, {"Allow": "GET, POST"}
        fleet, path = self.server.fleet, request.path
        if path == "/metrics":
            joined = fleet.scrape_all()
            joined.add(exporter_metrics(fleet).rendered())
            process = generate_latest(REGISTRY)
            body = (joined.size() + len(process), itertools.chain(joined.chunks(), [process]))
            return 200, body, CONTENT_TYPE, {}
        if path == "/scrape":
            return self._scrape(fleet, request.query().get("target", []))
        if path == "/discover":
            return 200, json.dumps(fleet.service_discovery(), indent=1).encode(), JSON, {}
        if path == "/-/healthy":
            return 200, b"Healthy\n", TEXT, {}
        if path == "/-/ready":
            return 200, b"Ready\n", TEXT, {}
        if path == "/":
            return 200, render_status(list(fleet.states.values())).encode(), HTML, {}
        return 404, b"Not found. See / for the endpoints.\n", TEXT, {}

    def _post(self, request: Request) -> Answer:
        if request.path != "/-/reload":
            return 405, b"Only /-/reload takes POST.\n", TEXT, {"Allow": "GET"}
        try:
            self.server.reload()
        except ConfigError as exc:
            message = f"reload refused, the running configuration stays: {exc}\n"
            return 400, message.encode(), TEXT, {}
        return 200, b"Reloaded\n", TEXT, {}

    def _scrape(self, fleet: Fleet, targets: list[str]) -> Answer:
        if len(targets) != 1 or not targets[0]:
            message = (
                b"exactly one 'target' parameter is required, e.g. ?target=redis://host:6379\n"
            )
            return 400, message, TEXT, {}
        try:
            metrics = fleet.scrape_one(targets[0])
        except TargetNotAllowed as exc:
            return 400, f"{exc}\n".encode(), TEXT, {}
        return 200, render_bytes(metrics), CONTENT_TYPE, {}


def _blocks(chunks: Iterable[Chunk], size: int = 1 << 18) -> Iterator[bytes]:
    """Small chunks gathered into writes of about `size` bytes: one syscall each."""
    batch: list[Chunk] = []
    pending = 0
    for chunk in chunks:
        batch.append(chunk)
        pending += len(chunk)
        if pending >= size:
            yield b"".join(batch)
            batch, pending = [], 0
    if batch:
        yield b"".join(batch)


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
