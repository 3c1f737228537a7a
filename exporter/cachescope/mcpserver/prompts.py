"""The prompts `cachescope mcp` offers: the order in which an expert would use its tools."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS

from cachescope.mcpserver.bounds import ToolRefused, one_line
from cachescope.mcpserver.tools import Toolbox

DIAGNOSE = """The cache {target} is slow or misbehaving. Find out why, using only the
cachescope tools:
1. analyze_target("{target}", "5s"): read its hit rate, memory, evictions, connections and
   the recommendations, most urgent first.
2. topology("{target}"): is it a replica, a cluster node or behind a sentinel? Is a peer down?
3. keyspace_report("{target}") if it has a sampler: big keys and groups without a TTL.
4. explain_alert for each alert a recommendation names, for the runbook's actions.
Answer with the cause you find most likely, the figures that show it, and the first action.
Do not suggest commands that write to the cache without saying what they change."""

REVIEW = """Review this cache fleet before a traffic peak, using only the cachescope tools:
1. fleet_health(): which targets are down or have findings, worst first.
2. For each target with a critical or high finding, analyze_target(target, "5s").
3. Look for headroom: memory use near maxmemory, connections near maxclients, evictions
   already running, replicas lagging, a cluster with uncovered slots.
Answer with a short table (target, risk, evidence, action) and what to do first."""


def _refused(message: str) -> MCPError:
    """An invalid-argument error with `message` on one line (the SDK hides a ValueError's)."""
    return MCPError(code=INVALID_PARAMS, message=one_line(message))


# A target is a name or an address: longer is not one, and the prompt writes it four times.
MAX_TARGET_CHARS = 512


def add(server: MCPServer, box: Toolbox) -> None:
    """Register the prompts on `server`; a target is checked as `box`'s tools check it."""

    @server.prompt(name="diagnose_slow_cache", title="Diagnose a slow cache")
    def diagnose_slow_cache(target: str) -> str:
        """Steps to find why one cache is slow, with the tools to call."""
        if len(target) > MAX_TARGET_CHARS:
            raise _refused(f"target: longer than {MAX_TARGET_CHARS} characters")
        try:  # what the tools refuse (not configured, a password in it) the prompt refuses
            box.state(target)
        except ToolRefused as exc:
            raise _refused(f"target: {exc}") from None
        return DIAGNOSE.format(target=target)

    @server.prompt(name="review_fleet_before_peak", title="Review the fleet before peak")
    def review_fleet_before_peak() -> str:
        """Steps to check every cache's headroom before a traffic peak."""
        return REVIEW
