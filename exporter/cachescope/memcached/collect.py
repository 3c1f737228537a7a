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
from cachescope.memcached.client import MemcachedConnection, Reply
from cachescope.memcached.parse import ReplyError, Stats, split_items, split_slabs

log = logging.getLogger(__name__)

# `stats conns` is left out: its reply grows with every client connection.
COMMANDS = ("stats", "stats settings", "stats slabs", "stats items")


class MemcachedCollector:
    """Scrapes one Memcached server over a persistent connection."""

    namespace = "memcached"

    def __init__(self, target: TargetConfig) -> None:
        self.target = target
        self.connection = MemcachedConnection(target)
        if target.credentials.password is not None:
            log.warning(
                "memcached authentication is not supported; the configured password is not sent",
                extra=fields(target=target.name),
            )

    def close(self) -> None:
        self.connection.close()

    def collect(self, metrics: MetricSet, deadline: float) -> None:
        """Fetch all stats in one round trip and add them to `metrics`."""
        commands = [c for c in COMMANDS if c not in self.connection.unavailable]
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
        if not isinstance(reply, ReplyError):
            return reply
        if command == "stats":
            if "unauthenticated" in reply:
                raise ScrapeError(
                    "auth",
                    "the server requires authentication (memcached -Y), "
                    "which cachescope does not support",
                )
            raise ScrapeError("command", f"stats failed: {reply}")
        self.connection.unavailable.add(command)
        log.warning(
            "command refused; not sending it again on this connection",
            extra=fields(target=self.target.name, command=command, reply=reply),
        )
        return None
