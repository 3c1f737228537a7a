"""Optional commands a server may refuse, and how a refusal is shown: a metric and one log line.

    cachescope_target_capability{capability="config"} 0
    cachescope_target_capability{capability="slowlog"} 1

Managed services rename or forbid CONFIG, SLOWLOG, LATENCY or CLIENT; an ACL
user may be allowed INFO only. None of that fails a scrape: the collector stops
sending the refused command on that connection and exports everything else.
"""

from __future__ import annotations

import logging

from cachescope.config.records import TargetConfig
from cachescope.errors import scrub
from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import GAUGE
from cachescope.logs import fields
from cachescope.redis.client import RedisConnection
from cachescope.redis.search import is_pattern

log = logging.getLogger(__name__)

# Replies that mean "this server will not run that command": renamed or missing
# (older versions, look-alike servers), or forbidden by the ACL. Any other error
# (LOADING, BUSY...) is taken as passing, and the command is sent again next time.
_REFUSED = (
    "unknown command",
    "noperm",
    "unknown subcommand",
    "wrong number of arguments",
    "not supported",
    "unsupported",
)
# The optional commands, by capability; CONFIG is looked up under the target's
# config_command (it may be renamed).
CAPABILITIES = {
    "slowlog": "SLOWLOG",
    "latency": "LATENCY",
    "latency_histogram": "LATENCY HISTOGRAM",  # Redis 7.0+, unless turned off
    "client_setname": "CLIENT",
    "commandlog": "COMMANDLOG",
    "cluster": "CLUSTER",
    "search": "FT.INFO",  # RediSearch, when the target names indexes (search.py)
    "search_list": "FT._LIST",  # RediSearch 2+, when one of them is a pattern
}


def is_refusal(reply: str) -> bool:
    """Whether an error reply means the command will not run on this server at all."""
    text = reply.lower()
    return any(marker in text for marker in _REFUSED)


def add_capabilities(metrics: MetricSet, target: TargetConfig, conn: RedisConnection) -> None:
    """cachescope_target_capability: 1 for each optional command the server runs for us."""
    used = {"slowlog", "latency", "client_setname"}
    if target.config_command:  # "" means the operator turned CONFIG off
        used.add("config")
    if conn.commandlog:
        used.add("commandlog")
    if conn.mode == "cluster":
        used.add("cluster")
    if target.redis.latency_histograms and conn.version >= (7,):
        used.add("latency_histogram")
    if target.redis.search_indexes:
        used.add("search")
    if any(is_pattern(entry) for entry in target.redis.search_indexes):
        used.add("search_list")
    for capability in sorted(used):
        command = target.config_command if capability == "config" else CAPABILITIES[capability]
        metrics.add(
            "cachescope_target_capability",
            GAUGE,
            "1 if the target runs this optional command for the exporter, 0 if it refused it.",
            0.0 if _refused(command, conn) else 1.0,
            (("capability", capability),),
        )


def _refused(command: str, conn: RedisConnection) -> bool:
    """Whether the server refused this command, or the whole of it ('LATENCY HISTOGRAM')."""
    unavailable = conn.unavailable
    return command in unavailable or command.split(" ", 1)[0] in unavailable


def report_refusals(target: TargetConfig, conn: RedisConnection, reported: set[str]) -> None:
    """Log each refused command once per target (`reported`), not on every reconnect."""
    for command, reply in conn.unavailable.items():
        if command in reported:
            continue
        reported.add(command)
        log.warning(
            "command refused; exporting everything else without it, "
            "and not sending it again on this connection",
            extra=fields(target=target.name, command=command, reply=scrub(reply, target)),
        )
