"""Memcached collector: one pipelined round trip per scrape, turned into metric families.

memcached_commands_total{command="get",status="hit"} 1
memcached_current_items 1
memcached_limit_bytes 6.7108864e+07
memcached_slab_current_items{slab="1"} 1
memcached_version{version="1.6.18"} 1
"""

from __future__ import annotations

import logging

from cachescope.config.records import TargetConfig
from cachescope.errors import ScrapeError
from cachescope.exposition.families import MetricSet
from cachescope.logs import fields
from cachescope.memcached import sections
from cachescope.memcached.client import UNAUTHENTICATED, MemcachedConnection, Reply
from cachescope.memcached.parse import Stats, Status, split_items, split_slabs

log = logging.getLogger(__name__)

# `stats conns` is left out: its reply grows with every client connection.
BASIC_COMMANDS = ("stats", "stats settings")
# Their families carry a `slab` label, up to 63 classes each; slab_metrics: false leaves
# them out, and with them memcached_malloced_bytes and memcached_active_slabs.
COMMANDS = (*BASIC_COMMANDS, "stats slabs", "stats items")


class MemcachedCollector:
    """Scrapes one Memcached server over a persistent connection."""

    namespace = "memcached"

    def __init__(self, target: TargetConfig) -> None:
        self.target = target
        self.connection = MemcachedConnection(target)

    def close(self) -> None:
        self.connection.close()

    def collect(self, metrics: MetricSet, deadline: float) -> None:
        """Fetch all stats in one round trip and add them to `metrics`."""
        wanted = COMMANDS if self.target.slab_metrics else BASIC_COMMANDS
        commands = [c for c in wanted if c not in self.connection.unavailable]
        replies = self.connection.execute(commands, deadline)
        by_command: dict[str, Stats] = {}
        for command, reply in zip(commands, replies, strict=True):
            stats = self._checked(command, reply)
            if stats is not None:
                by_command[command] = stats
        stats = by_command["stats"]
        slabs = split_slabs(by_command.get("stats slabs", {}))
        sections.add_stats(metrics, {**slabs.totals, **stats})
        sections.add_settings(metrics, by_command.get("stats settings", {}), stats)
        sections.add_slabs(metrics, slabs.per_slab, split_items(by_command.get("stats items", {})))

    def _checked(self, command: str, reply: Reply) -> Stats | None:
        """The reply as stats; None for a refused subcommand, which we stop sending."""
        if isinstance(reply, dict):
            return reply
        if isinstance(reply, Status):
            raise ScrapeError("protocol", f"unexpected reply to {command}: {reply[:60]}")
        if command == "stats":
            if reply == UNAUTHENTICATED:  # it let `version` through, or took our login
                raise ScrapeError("auth", "stats refused as unauthenticated after connecting")
            raise ScrapeError("command", f"stats failed: {reply}")
        self.connection.unavailable.add(command)
        log.warning(
            "command refused; not sending it again on this connection",
            extra=fields(target=self.target.name, command=command, reply=reply),
        )
        return None
