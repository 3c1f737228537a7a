"""The HTTP side: /metrics, /scrape?target=, /discover, health, reload and the status page."""

from __future__ import annotations

import errno
import itertools
import json
import logging
import platform
import socket
from collections.abc import Callable

from prometheus_client import REGISTRY, generate_latest

from cachescope import __version__
from cachescope.config.yamlmarks import ConfigError
from cachescope.exposition.families import MetricSet, render_bytes
from cachescope.exposition.textformat import COUNTER, GAUGE
from cachescope.fleet import Fleet, TargetNotAllowed
from cachescope.logs import fields
from cachescope.web.basicauth import Outcome
from cachescope.web.conn import Answer, Streamed
from cachescope.web.front import LIGHT_PATHS as QUICK_PATHS
from cachescope.web.front import Front
from cachescope.web.status import render_status
from cachescope.web.webconfig import WebConfig
from cachescope.web.webreload import ReloadStats
from cachescope.web.wire import Request, configure_headers, scrape_budget

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
_RETRY = {"Retry-After": "1"}
JSON = "application/json"
HTML = "text/html; charset=utf-8"
# Open HTTP connections (--web.max-connections): an idle or slow one costs a
# descriptor, not a thread.
DEFAULT_WEB_MAX_CONNECTIONS = 1024


def exporter_metrics(
    fleet: Fleet, encodings: dict[str, int] | None = None, web_reloads: ReloadStats | None = None
) -> MetricSet:
    """Facts about the exporter itself, served on /metrics."""
    metrics = MetricSet()
    if web_reloads is not None:
        web_reloads.add_metrics(metrics)
    responses = metrics.family(
        "cachescope_http_responses_total",
        COUNTER,
        "HTTP responses with a text or JSON body, by Content-Encoding (gzip if the client asked).",
    )
    for encoding, count in sorted((encodings or {}).items()):
        responses.add(count, (("encoding", encoding),))
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
    fleet.add_discovery_metrics(metrics)
    return metrics


class ExporterServer:
    """The exporter's HTTP endpoints behind the front (see front.py)."""

    # /metrics, and redis_exporter's --web.telemetry-path where one is given.
    metrics_paths: frozenset[str] = frozenset({"/metrics"})
    web_reloads: ReloadStats | None = None  # set by the service that reloads the web config

    def __init__(
        self,
        address: tuple[str, int],
        fleet: Fleet,
        web: WebConfig | None = None,
        reload: Callable[[], None] | None = None,
        *,
        web_max_connections: int = DEFAULT_WEB_MAX_CONNECTIONS,
    ) -> None:
        self.fleet = fleet
        self.web = web or WebConfig()
        self._reload = reload
        listener = listen(address)
        self.server_address: tuple[str, int] = listener.getsockname()[:2]
        self.front = Front(listener, self.answer, self.web.tls, web_max_connections, self.quick)
        configure_headers(self.web.headers)

    def use_web(self, web: WebConfig) -> None:
        """Serve with a reloaded web config: users, headers, and TLS for new connections."""
        self.web = web
        configure_headers(web.headers)
        self.front.use_tls(web.tls)

    @property
    def active(self) -> int:
        """Requests being answered."""
        return self.front.active

    def serve_forever(self) -> None:
        self.front.serve_forever()

    def shutdown(self) -> None:
        self.front.shutdown()

    def server_close(self) -> None:
        """Stop listening; requests under way finish (watch `active`)."""
        self.front.close()

    def reload(self) -> None:
        if self._reload is None:
            raise ConfigError("this exporter was started without a configuration to reload")
        self._reload()

    def answer(self, request: Request) -> Answer:
        """Status, body, content type and extra headers for one request."""
        try:
            answer = self._answer(request)
        except Exception:  # never a traceback to the client; the log has it
            log.exception("error answering", extra=fields(method=request.method, path=request.path))
            answer = Answer(500, b"Internal error; the exporter's log says more.\n", TEXT, {})
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "http", extra=fields(method=request.method, path=request.path, status=answer.status)
            )
        return answer

    def quick(self, request: Request) -> Answer | None:
        """Health and readiness, answered by the front itself: no password, no scrape."""
        if request.path not in QUICK_PATHS or request.method not in ("GET", "HEAD"):
            return None
        return _health(request.path)

    def _answer(self, request: Request) -> Answer:
        if request.path in QUICK_PATHS and request.method in ("GET", "HEAD"):
            return _health(request.path)
        outcome = self.web.check(request.headers.get("authorization"))
        if outcome is Outcome.THROTTLED:  # a flood of new passwords spent the bcrypt budget
            return Answer(503, b"Too many password checks; try again shortly.\n", TEXT, _RETRY)
        if outcome is not Outcome.OK:
            return Answer(
                401, b"Unauthorized\n", TEXT, {"WWW-Authenticate": 'Basic realm="cachescope"'}
            )
        if request.method == "POST":
            return self._post(request)
        if request.method not in ("GET", "HEAD"):
            return Answer(
                405, b"Only GET, HEAD, and POST to /-/reload.\n", TEXT, {"Allow": "GET, HEAD, POST"}
            )
        fleet, path = self.fleet, request.path
        if path in self.metrics_paths:
            joined = fleet.scrape_all(scrape_budget(request.headers))
            own = exporter_metrics(fleet, self.front.encodings.counts(), self.web_reloads)
            joined.add(own.rendered())
            process = generate_latest(REGISTRY)
            body = Streamed(
                joined.size() + len(process), itertools.chain(joined.chunks(), [process])
            )
            return Answer(200, body, CONTENT_TYPE, {})
        if path == "/scrape":
            targets = request.query().get("target", [])
            return self._scrape(fleet, targets, scrape_budget(request.headers))
        if path == "/discover":
            return Answer(200, json.dumps(fleet.service_discovery(), indent=1).encode(), JSON, {})
        if path == "/":
            return Answer(200, render_status(list(fleet.states.values())).encode(), HTML, {})
        return Answer(404, b"Not found. See / for the endpoints.\n", TEXT, {})

    def _post(self, request: Request) -> Answer:
        if request.path != "/-/reload":
            return Answer(405, b"Only /-/reload takes POST.\n", TEXT, {"Allow": "GET, HEAD"})
        try:
            self.reload()
        except ConfigError as exc:
            message = f"reload refused, the running configuration stays: {exc}\n"
            return Answer(400, message.encode(), TEXT, {})
        return Answer(200, b"Reloaded\n", TEXT, {})

    def _scrape(self, fleet: Fleet, targets: list[str], budget: float | None) -> Answer:
        if len(targets) != 1 or not targets[0]:
            message = (
                b"exactly one 'target' parameter is required, e.g. ?target=redis://host:6379\n"
            )
            return Answer(400, message, TEXT, {})
        try:
            metrics = fleet.scrape_one(targets[0], budget)
        except TargetNotAllowed as exc:
            return Answer(400, f"{exc}\n".encode(), TEXT, {})
        return Answer(200, render_bytes(metrics), CONTENT_TYPE, {})


_NO_IPV6 = (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL)


def listen(address: tuple[str, int]) -> socket.socket:
    """A listening socket; an empty host means every address, IPv4 and IPv6 alike."""
    host, port = address
    if not host:
        try:  # one IPv6 socket that takes IPv4 too (as ::ffff:a.b.c.d)
            return _bound(socket.AF_INET6, ("::", port), dual=True)
        except OSError as exc:
            # IPv4 alone only where the machine has no IPv6; a port taken (on either
            # family) is an error, as Go's `:PORT` makes it, never a silent narrowing.
            if exc.errno not in _NO_IPV6:
                raise
            log.debug("no IPv6 listener (%s); listening on IPv4 only", exc)
    return _bound(socket.AF_INET6 if ":" in host else socket.AF_INET, address)


def _bound(family: int, address: tuple[str, int], dual: bool = False) -> socket.socket:
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if dual:  # Linux defaults to dual-stack, but a sysctl (or BSD) may say otherwise
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind(address)
        listener.listen(1024)  # a burst of connections waits in the kernel, not refused
    except OSError:
        listener.close()
        raise
    return listener


def _health(path: str) -> Answer:
    """The probes' answer, the same for anyone: exempt from basic auth (docs/security.md).

    It tells only that the process serves and has loaded its configuration: a
    fixed text, no target name, no count.
    """
    return Answer(200, b"Healthy\n" if path == "/-/healthy" else b"Ready\n", TEXT, {})


def parse_listen_address(text: str) -> tuple[str, int]:
    """':9808', '127.0.0.1:9808' or '[::1]:9808' -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not (port.isascii() and port.isdecimal()):
        raise ValueError(f"listen address {text!r} must look like HOST:PORT or :PORT")
    if int(port) > 65535:  # bind() would raise OverflowError, a traceback at start
        raise ValueError(f"listen address {text!r}: the port must be 0 to 65535")
    return host.strip("[]"), int(port)
