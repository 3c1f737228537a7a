"""The streamable HTTP transport: the SDK's own app under uvicorn, behind the web config.

The web config file is the exporter's (TLS, basic auth, extra headers), read by the
same code with the same located errors. Everything that can fail at start (the
address, the file, the port) fails in `prepare`, before the fleet is built.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator

import click
import uvicorn
from mcp.server.mcpserver import MCPServer

from cachescope.logs import fields
from cachescope.mcpserver.webguard import Guard, allowed_origins, host_checks, is_wildcard
from cachescope.web.server import DEFAULT_WEB_MAX_CONNECTIONS, listen, parse_listen_address
from cachescope.web.webconfig import WebConfig, load_web_config

log = logging.getLogger(__name__)
# After SIGTERM, open streams (an assistant's GET stream stays open) get this long
# to end before they are cut: a stop should take seconds, not the stream's life.
SHUTDOWN_GRACE_SECONDS = 2
_MAX_ERROR_TEXT = 200
Serve = Callable[[MCPServer], Awaitable[None]]


def prepare(address: str, web_config_file: str | None) -> Serve:
    """Check the address and web config and bind the port now; give the coroutine that serves."""
    try:
        host, port = parse_listen_address(address)
        web = load_web_config(web_config_file) if web_config_file else WebConfig()
    except ValueError as exc:  # a ConfigError too: file, line and field, on one line
        raise click.ClickException(str(exc)) from None
    try:
        listener = listen((host, port))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {address}: {exc.strerror}") from None
    bound = int(listener.getsockname()[1])  # port 0 picks one; the checks need the real one

    async def serve(server: MCPServer) -> None:
        try:
            await _serve(server, web, listener, host, bound)
        except Exception as exc:  # a user reads one line; --log.level debug shows where
            log.debug("the HTTP transport failed", exc_info=True)
            raise click.ClickException(f"the HTTP transport failed: {exc!r}") from None

    return serve


async def _serve(
    server: MCPServer, web: WebConfig, listener: socket.socket, host: str, port: int
) -> None:
    scheme = "https" if web.tls is not None else "http"
    app = server.streamable_http_app(transport_security=host_checks(host, port, scheme))
    origins = allowed_origins(host, port, scheme) if is_wildcard(host) else None
    config = _Config(
        Guard(app, web, origins),
        tls=web.tls,
        log_config=None,  # cachescope's logging is set up already: keep its handler
        access_log=False,
        server_header=False,  # do not advertise the server software
        headers=list(web.headers.items()),
        limit_concurrency=DEFAULT_WEB_MAX_CONNECTIONS,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        lifespan="on",  # the SDK's session manager runs in the app's lifespan
    )
    _quiet_tracebacks()
    endpoint = f"{scheme}://{_display(host)}:{port}/mcp"
    log.info("serving MCP over streamable HTTP", extra=fields(endpoint=endpoint))
    await _Server(config).serve(sockets=[listener])


def _display(host: str) -> str:
    if not host:
        return "[::]"
    return f"[{host}]" if ":" in host else host


class _Config(uvicorn.Config):
    """uvicorn's config, with the web config's SSLContext (min/max version, ciphers, client CA)."""

    def __init__(self, app: Guard, *, tls: ssl.SSLContext | None, **options: object) -> None:
        super().__init__(app, **options)  # type: ignore[arg-type]
        self.tls = tls

    def load(self) -> None:
        super().load()
        # uvicorn builds a context only from file names; ours is built and checked already.
        self.ssl = self.tls


class _Server(uvicorn.Server):
    """uvicorn's server, minus its re-raising of the signal that stopped it.

    uvicorn raises SIGTERM again once it has shut down, which would kill the process
    before the fleet is closed and make a clean stop exit by signal, not with 0.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        stops = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in stops}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class _OneLine(logging.Filter):
    """uvicorn's and the SDK's error records as one line: the exception's type and text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.name.startswith(("uvicorn", "mcp", "starlette")):
            error = record.exc_info[1]
            if error is not None:
                text = " ".join(str(error).split())[:_MAX_ERROR_TEXT]
                message = " ".join(record.getMessage().split())  # uvicorn's end in a newline
                record.msg = f"{message}: {type(error).__name__}: {text}".rstrip(": ")
                record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def _quiet_tracebacks() -> None:
    """No traceback from the HTTP stack on stderr: a user reads one line per error."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _OneLine) for f in handler.filters):
            handler.addFilter(_OneLine())
