"""The MCP server: the tools, resources and prompts of `cachescope mcp`, on the official SDK.

Every tool is read-only and runs in a worker thread under a time limit; its answer is
capped in size, and anything that goes wrong reaches the assistant as a tool error with
a one-line message, never a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    CallToolResult,
    GetPromptResult,
    InputRequiredResult,
    ToolAnnotations,
)
from pydantic import ValidationError

from cachescope import __version__
from cachescope.alerts import BY_NAME
from cachescope.config.schema import parse_duration
from cachescope.logs import fields
from cachescope.mcpserver import prompts
from cachescope.mcpserver.bounds import ToolRefused, checked, one_line
from cachescope.mcpserver.tools import MAX_INTERVAL, Toolbox

log = logging.getLogger(__name__)

# A tool that talks to targets gets this long beyond what its own waits add up to; past
# it the assistant gets an error, and the thread finishes on its own sockets' deadlines.
TOOL_SECONDS = 30.0
READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
INSTRUCTIONS = (
    "cachescope reads the health of the Redis and Memcached servers in its configuration. "
    "Start with fleet_health or list_targets; analyze_target gives one cache's report with "
    "actions; explain_alert says what an alert means and what to do. Nothing here writes "
    "to a cache, and only configured or allowed targets can be named."
)


class CachescopeServer(MCPServer):
    """The SDK's server, with its argument errors made one line an assistant can act on."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context | None = None
    ) -> CallToolResult | InputRequiredResult:
        """The SDK's call; arguments of the wrong shape refused field by field, in one line.

        The SDK's own message is pydantic's: several lines, with a link and the value sent.
        """
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if not isinstance(cause, ValidationError):
                raise
            raise ToolError(f"{name}: {_argument_errors(cause)}") from cause

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context | None = None
    ) -> GetPromptResult | InputRequiredResult:
        """The SDK's prompt; a missing or unknown one refused with why, not logged as a crash.

        The SDK turns these into an "Internal server error" and logs a traceback.
        """
        try:
            return await super().get_prompt(name, arguments, context)
        except ValueError as exc:
            raise MCPError(code=INVALID_PARAMS, message=one_line(str(exc))) from None


def _argument_errors(error: ValidationError) -> str:
    """`field: problem` for each wrong argument, without the value the caller sent."""
    problems = [
        f"{'.'.join(str(part) for part in item['loc']) or 'arguments'}: {item['msg']}"
        for item in error.errors()
    ]
    return one_line("wrong arguments: " + "; ".join(problems))


def build(toolbox: Toolbox) -> MCPServer:
    """An MCPServer offering `toolbox`'s tools, the thresholds and runbooks, two prompts."""
    server = CachescopeServer(
        "cachescope", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )
    _add_tools(server, toolbox)
    _add_resources(server, toolbox)
    prompts.add(server, toolbox)
    return server


async def _run(name: str, work: Callable[[], dict[str, Any]], seconds: float) -> dict[str, Any]:
    """`work` in a thread, within `seconds`; every failure as a ToolError with one line."""
    try:
        with anyio.fail_after(seconds):
            answer = await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
        return checked(answer)
    except ToolRefused as exc:
        raise ToolError(one_line(str(exc))) from None
    except TimeoutError:
        raise ToolError(
            f"{name} took longer than {seconds:g}s; try again or name one target"
        ) from None
    except Exception as exc:  # a bug must not show the assistant a traceback
        log.error("tool failed", extra=fields(tool=name, error=type(exc).__name__))
        raise ToolError(f"{name} failed ({type(exc).__name__}); the server log has more") from None


def _interval_seconds(interval: str) -> float:
    """The interval analyze_target waits, as the README bounds it; the tool refuses a bad one."""
    try:
        return min(max(parse_duration(interval), 0.0), MAX_INTERVAL)
    except ValueError:
        return 0.0  # refused before any wait


def _add_tools(server: MCPServer, box: Toolbox) -> None:
    async def list_targets() -> dict[str, Any]:
        """List the caches this server may read: configured and discovered targets with their
        kind, address (no password), role, cluster or master set, whether the last read
        succeeded and its error, and the allow patterns that admit other addresses."""
        return await _run("list_targets", box.list_targets, TOOL_SECONDS)

    async def fleet_health() -> dict[str, Any]:
        """One line per target, worst first: up or down with the error, the worst finding's
        priority (critical, high, medium, low), the findings, hit rate, memory use and
        evictions. Start here to find which cache needs attention."""
        return await _run("fleet_health", box.fleet_health, TOOL_SECONDS)

    async def analyze_target(target: str, interval: str = "2s") -> dict[str, Any]:
        """Health report of one cache: samples it twice `interval` apart (a duration such as
        "2s", 1s to 60s) and returns its figures (hit rate, memory, evictions, connections,
        replication, persistence) and recommendations with priority and action, judged by
        the same thresholds as the alerts, plus a configuration audit (settings that will
        hurt this instance, with `evidence` and the exact `fix`). `target` is a name from
        list_targets or an address an allow pattern admits."""
        seconds = TOOL_SECONDS + _interval_seconds(interval)
        return await _run("analyze_target", lambda: box.analyze_target(target, interval), seconds)

    async def keyspace_report(target: str) -> dict[str, Any]:
        """What the background keyspace sampler found on one Redis target: key groups with
        estimated counts, memory and TTL coverage, the biggest and hottest keys, streams and
        consumer-group lag. Key names only, never values."""
        return await _run("keyspace_report", lambda: box.keyspace_report(target), TOOL_SECONDS)

    async def explain_alert(alertname: str) -> dict[str, Any]:
        """What a cachescope alert (e.g. RedisMemoryNearLimit) means: its category, thresholds
        in force, the rendered PromQL rules with severities, the action to take and the
        runbook text."""
        return await _run("explain_alert", lambda: box.explain_alert(alertname), TOOL_SECONDS)

    async def topology(target: str) -> dict[str, Any]:
        """How one Redis target is placed: a cluster's nodes with roles and slots, a
        sentinel's master sets with their replicas and quorum, or a server's primary and
        replicas."""
        return await _run("topology", lambda: box.topology(target), TOOL_SECONDS)

    for tool in (
        list_targets,
        fleet_health,
        analyze_target,
        keyspace_report,
        explain_alert,
        topology,
    ):
        server.add_tool(tool, annotations=READ_ONLY, structured_output=True)


def _add_resources(server: MCPServer, box: Toolbox) -> None:
    @server.resource(
        "cachescope://thresholds",
        mime_type="application/json",
        description="Every alert's thresholds, for and severities in force.",
    )
    def thresholds() -> str:
        return json.dumps(box.thresholds["alerts"], indent=1, default=str)

    @server.resource(
        "cachescope://runbook/{alertname}",
        mime_type="text/markdown",
        description="The runbook section of one alert: meaning and what to do.",
    )
    def runbook(alertname: str) -> str:
        alert = BY_NAME.get(alertname)
        if alert is None:
            raise ResourceError(one_line(f"no alert named {alertname}"))
        return f"# {alert.name}\n\n{alert.runbook()}"
