"""The streamable HTTP transport (being written)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mcp.server.mcpserver import MCPServer


def prepare(address: str, web_config_file: str | None) -> Callable[[MCPServer], Awaitable[None]]:
    """Check the address and web config now; give the coroutine that serves."""
    raise ValueError("--transport http is not available yet")
