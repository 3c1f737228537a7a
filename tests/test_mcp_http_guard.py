"""The HTTP transport's Host and Origin checks, per listen address, without a socket."""

from __future__ import annotations

import logging
import sys
from collections.abc import Coroutine
from typing import Any

import pytest
from cachescope.mcpserver.webapp import _OneLine
from cachescope.mcpserver.webguard import Guard, allowed_origins, host_checks
from cachescope.web.webconfig import WebConfig
from hypothesis import given
from hypothesis import strategies as st

PORT = 9122


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_a_loopback_listener_allows_the_loopback_names_on_its_own_port_only(host: str) -> None:
    settings = host_checks(host, PORT, "http")
    assert settings.enable_dns_rebinding_protection
    assert set(settings.allowed_hosts) == {"127.0.0.1:9122", "localhost:9122", "[::1]:9122"}
    assert "http://localhost:9122" in settings.allowed_origins
    assert not any(origin.startswith("https") for origin in settings.allowed_origins)


def test_a_listener_on_one_address_allows_that_address_and_https_origins_under_tls() -> None:
    settings = host_checks("192.0.2.7", 443, "https")
    assert settings.enable_dns_rebinding_protection
    assert set(settings.allowed_hosts) == {"192.0.2.7:443", "192.0.2.7"}
    assert set(settings.allowed_origins) == {"https://192.0.2.7:443", "https://192.0.2.7"}


@pytest.mark.parametrize("host", ["", "0.0.0.0", "::"])  # noqa: S104 (parsed, never bound)
def test_a_wildcard_listener_leaves_host_to_any_name_and_checks_origin_itself(host: str) -> None:
    assert not host_checks(host, PORT, "http").enable_dns_rebinding_protection
    origins = allowed_origins(host, PORT, "http")
    assert "http://127.0.0.1:9122" in origins and "http://rebound.example:9122" not in origins


def _drive(coroutine: Coroutine[Any, Any, int]) -> int:
    """Run a coroutine that awaits nothing but our own callables: no event loop (a unit test)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return int(done.value)
    raise AssertionError("the guard waited on something outside the request")


async def _status(guard: Guard, headers: dict[str, str]) -> int:
    """The status a request with these headers gets from `guard`."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/mcp",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await guard(scope, receive, send)
    return int(sent[0]["status"])


async def _app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


@given(st.text(min_size=1, max_size=40).filter(lambda s: s.isprintable() and s.isascii()))
def test_on_a_wildcard_listener_any_other_origin_is_refused(origin: str) -> None:
    guard = Guard(_app, WebConfig(), allowed_origins("", PORT, "http"))
    expected = 200 if origin in guard.origins else 403  # type: ignore[operator]
    assert _drive(_status(guard, {"Origin": origin})) == expected


def test_on_a_wildcard_listener_no_origin_or_its_own_passes() -> None:
    guard = Guard(_app, WebConfig(), allowed_origins("", PORT, "http"))
    assert _drive(_status(guard, {})) == 200  # an assistant's client sends none
    assert _drive(_status(guard, {"Origin": "http://localhost:9122"})) == 200
    assert _drive(_status(guard, {"Origin": "http://rebound.example:9122"})) == 403


def test_an_error_record_of_the_http_stack_becomes_one_line_without_a_traceback() -> None:
    try:
        raise ValueError("bad\nframe")
    except ValueError:
        record = logging.LogRecord(
            "uvicorn.error",
            logging.ERROR,
            __file__,
            1,
            "Exception in ASGI application\n",
            (),
            sys.exc_info(),
        )
    assert _OneLine().filter(record)
    assert record.exc_info is None
    assert record.getMessage() == "Exception in ASGI application: ValueError: bad frame"
