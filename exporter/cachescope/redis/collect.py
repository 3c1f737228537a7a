"""Redis collector: one pipelined round trip per scrape, turned into metric families.

redis_memory_used_bytes 1.257344e+06
redis_commands_total{cmd="get"} 100
redis_db_keys{db="db0"} 100
redis_instance_info{role="master",redis_version="7.0.15",...} 1
"""

from __future__ import annotations

import logging
import time

from cachescope.config import TargetConfig
from cachescope.errors import ScrapeError
from cachescope.exposition import GAUGE, MetricSet
from cachescope.redis import sections
from cachescope.redis.client import RedisConnection, ReplyError
from cachescope.redis.parse import (
    parse_config_get,
    parse_info,
    parse_latency_latest,
    parse_slowlog_entry,
)

log = logging.getLogger(__name__)

# Settings redis_exporter exports as redis_config_*; `databases` sizes the
# zero-filled redis_db_keys series. One CONFIG GET per name because Redis
# before 7.0 accepts only one pattern per call; they share the round trip.
CONFIG_METRICS = ("maxmemory", "maxclients", "io-threads")
CONFIG_NAMES = CONFIG_METRICS + ("databases",)
_REFUSED = ("unknown command", "NOPERM", "unknown subcommand")


class RedisCollector:
    """Scrapes one Redis server over a persistent connection."""

    namespace = "redis"

    def __init__(self, target: TargetConfig) -> None:
        self.target = target
        self.connection = RedisConnection(target)

    def close(self) -> None:
        self.connection.close()

    def _commands(self) -> list[tuple[str, ...]]:
        """The scrape pipeline, less the commands this server refused before."""
        commands: list[tuple[str, ...]] = [("INFO", "ALL")]
        config = self.target.config_command
        if config and config not in self.connection.unavailable:
            commands += [(config, "GET", name) for name in CONFIG_NAMES]
        if "SLOWLOG" not in self.connection.unavailable:
            commands += [("SLOWLOG", "LEN"), ("SLOWLOG", "GET", "1")]
        if "LATENCY" not in self.connection.unavailable:
            commands.append(("LATENCY", "LATEST"))
        return commands

    def collect(self, metrics: MetricSet, deadline: float) -> None:
        """Fetch everything in one round trip and add it to `metrics`."""
        commands = self._commands()
        replies = self.connection.execute(commands, deadline)
        by_command: dict[str, list[object]] = {}
        for command, reply in zip(commands, replies, strict=True):
            if isinstance(reply, ReplyError):
                self._refused(command, reply)
                continue
            by_command.setdefault(" ".join(command[:2]), []).append(reply)
        info = by_command.get("INFO ALL")
        if not info or not isinstance(info[0], bytes):
            raise ScrapeError("command", "INFO returned no data")
        fields = parse_info(info[0])
        config = parse_config_get(by_command.get(f"{self.target.config_command} GET", []))
        sections.add_info(metrics, fields, time.time())
        sections.add_config(metrics, config, fields, CONFIG_METRICS)
        sections.add_keyspace(metrics, fields, _db_count(config, fields))
        self._add_slowlog(metrics, by_command)
        for event, when, duration in parse_latency_latest(
            by_command.get("LATENCY LATEST", [None])[0]
        ):
            labels = (("event_name", event),)
            metrics.add(
                "redis_latency_spike_last",
                GAUGE,
                "Unix time of the latest latency spike.",
                when,
                labels,
            )
            metrics.add(
                "redis_latency_spike_duration_seconds",
                GAUGE,
                "Duration of the latest latency spike.",
                duration,
                labels,
            )

    def _refused(self, command: tuple[str, ...], reply: ReplyError) -> None:
        text = str(reply)
        if command[0] == "INFO":
            kind = "auth" if text.startswith(("NOAUTH", "WRONGPASS")) else "command"
            raise ScrapeError(kind, f"INFO failed: {text}")
        if (
            any(marker in text for marker in _REFUSED)
            and command[0] not in self.connection.unavailable
        ):
            self.connection.unavailable.add(command[0])
            log.warning(
                "target=%s command %s refused (%s); not sending it again on this connection",
                self.target.name,
                command[0],
                text,
            )

    @staticmethod
    def _add_slowlog(metrics: MetricSet, by_command: dict[str, list[object]]) -> None:
        length = by_command.get("SLOWLOG LEN")
        if length and isinstance(length[0], int):
            metrics.add("redis_slowlog_length", GAUGE, "Entries in the slow log.", length[0])
        newest = parse_slowlog_entry(by_command.get("SLOWLOG GET", [None])[0])
        if length is not None:
            last_id, duration = newest if newest else (0.0, 0.0)
            metrics.add("redis_slowlog_last_id", GAUGE, "Id of the newest slow log entry.", last_id)
            metrics.add(
                "redis_last_slow_execution_duration_seconds",
                GAUGE,
                "Duration of the newest slow log entry.",
                duration,
            )


def _db_count(config: dict[str, str], fields: dict[str, str]) -> int:
    if fields.get("cluster_enabled") == "1":
        return 1
    databases = config.get("databases", "")
    return int(databases) if databases.isdigit() else 16
