"""The HTTP side: /metrics, /scrape?target=, health endpoints and a landing page."""

from __future__ import annotations

import html
import json
import logging
import platform
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from prometheus_client import REGISTRY, generate_latest

from cachescope import __version__
from cachescope.exposition import GAUGE, MetricSet, render
from cachescope.fleet import Fleet, TargetNotAllowed

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LANDING = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>cachescope</title></head>
<body><h1>cachescope {version}</h1>
<p>Prometheus exporter for Redis and Memcached.</p>
<ul>
<li><a href="/metrics">/metrics</a>: every configured target, plus the exporter's own metrics</li>
<li>/scrape?target=redis://host:6379: one target (the multi-target pattern)</li>
<li><a href="/discover">/discover</a>: every target, discovered ones included, for Prometheus'
HTTP service discovery</li>
<li><a href="/-/healthy">/-/healthy</a> and <a href="/-/ready">/-/ready</a></li>
</ul>
<h2>Configured targets</h2>
<table><tr><th>name</th><th>address</th><th>last error</th></tr>
{rows}
</table></body></html>
"""


def exporter_metrics(fleet: Fleet) -> MetricSet:
    """Facts about the exporter itself, served on /metrics."""
    metrics = MetricSet()
    metrics.add(
        "cachescope_build_info",
        GAUGE,
        "Version of cachescope, as labels.",
        1,
        (
            ("version", __version__),
            ("python_version", platform.python_version()),
        ),
    )
    metrics.add("cachescope_targets", GAUGE, "Targets in the configuration.", len(fleet.states))
    return metrics


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Prometheus reuses its connection
    server: ExporterServer

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
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
            self._send(200, self._landing(fleet).encode(), "text/html; charset=utf-8")
        else:
            self._send(404, b"Not found. See / for the endpoints.\n")

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

    def _landing(self, fleet: Fleet) -> str:
        rows = "\n".join(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(state.target.endpoint.redacted())}"
            f"</td><td>{html.escape(state.last_error)}</td></tr>"
            for name, state in fleet.states.items()
        )
        return _LANDING.format(version=__version__, rows=rows)

    def setup(self) -> None:
        super().setup()
        # Responses go out in one write, and without Nagle's delay: with keep-alive,
        # a small write after the headers otherwise waits for a delayed ACK (~40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

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
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fleet: Fleet) -> None:
        self.fleet = fleet
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)


def parse_listen_address(text: str) -> tuple[str, int]:
    """':9808', '127.0.0.1:9808' or '[::1]:9808' -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen address {text!r} must look like HOST:PORT or :PORT")
    return host.strip("[]"), int(port)


def serve(fleet: Fleet, address: tuple[str, int], ready: threading.Event | None = None) -> None:
    """Serve until interrupted."""
    server = ExporterServer(address, fleet)
    log.info("listening on %s:%d", address[0] or "0.0.0.0", server.server_address[1])
    if ready is not None:
        ready.set()
    try:
        server.serve_forever()
    finally:
        server.server_close()
