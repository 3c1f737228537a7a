"""What stands in front of the SDK's HTTP app: basic auth, and the Host and Origin checks.

Basic auth is the exporter's own checker (web/basicauth.py), so its bcrypt budget
and its answer cache apply here as they do to /metrics. The DNS-rebinding
protection is the SDK's (TransportSecuritySettings) wherever the listen address
names the host; see `host_checks` for the wildcard case.
"""

from __future__ import annotations

import ipaddress
import socket

import anyio.to_thread
from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from cachescope.web.basicauth import Outcome
from cachescope.web.webconfig import WebConfig

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_UNAUTHORIZED = {"WWW-Authenticate": 'Basic realm="cachescope"'}


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name
        return False


def _with_port(names: list[str], port: int, scheme: str) -> list[str]:
    """`name:port` for each name, and the bare name where the port is the scheme's default."""
    default = port == (443 if scheme == "https" else 80)
    return [f"{name}:{port}" for name in names] + (names if default else [])


def host_names(host: str) -> list[str]:
    """The names a client may put in Host to reach a listener bound to `host`."""
    if is_wildcard(host):
        names = [*LOOPBACK_NAMES, socket.gethostname(), socket.getfqdn()]
        return list(dict.fromkeys(names))
    if _is_loopback(host):
        return list(LOOPBACK_NAMES)
    return [f"[{host}]" if ":" in host else host]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_wildcard(host: str) -> bool:
    """True for '', 0.0.0.0 and ::: every address of the machine."""
    return not host or (_is_ip(host) and ipaddress.ip_address(host).is_unspecified)


def allowed_origins(host: str, port: int, scheme: str) -> list[str]:
    """The Origin values of pages served from this listener's own names."""
    return [f"{scheme}://{name}" for name in _with_port(host_names(host), port, scheme)]


def host_checks(host: str, port: int, scheme: str) -> TransportSecuritySettings:
    """The SDK's DNS-rebinding settings for a listener on `host`:`port`.

    A wildcard address is reached under names we cannot know (a load balancer's, a
    Kubernetes Service's, any of the machine's addresses), so the SDK's Host check,
    which takes only a fixed list, would refuse the very clients the operator meant.
    There the Guard below checks Origin instead, which is what defeats a rebinding
    page: a browser sends Origin on every POST, and an MCP client must POST.
    """
    if is_wildcard(host):
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=_with_port(host_names(host), port, scheme),
        allowed_origins=allowed_origins(host, port, scheme),
    )


class Guard:
    """ASGI middleware: basic auth from the web config, and Origin on a wildcard listener."""

    def __init__(self, app: ASGIApp, web: WebConfig, origins: list[str] | None) -> None:
        self.app = app
        self.web = web
        self.origins = origins  # None: the SDK checks Host and Origin itself

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: the SDK's session manager starting
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = await self._refusal(headers)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _refusal(self, headers: Headers) -> PlainTextResponse | None:
        origin = headers.get("origin")
        if self.origins is not None and origin is not None and origin not in self.origins:
            return PlainTextResponse("Origin not allowed\n", 403)
        if not self.web.users:
            return None
        # bcrypt is slow on purpose: off the event loop, so one check stalls no session.
        outcome = await anyio.to_thread.run_sync(self.web.check, headers.get("authorization"))
        if outcome is Outcome.THROTTLED:
            message = "Too many password checks; try again shortly.\n"
            return PlainTextResponse(message, 503, {"Retry-After": "1"})
        if outcome is not Outcome.OK:
            return PlainTextResponse("Unauthorized\n", 401, _UNAUTHORIZED)
        return None
