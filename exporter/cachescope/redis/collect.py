"""Redis collector: one pipelined round trip per scrape, turned into metric families.

    redis_memory_used_bytes 1257344
    redis_commands_total{cmd="get"} 100
    redis_db_keys{db="db0"} 100
    redis_instance_info{role="master",redis_version="7.0.15",...} 1

What a server is (standalone, cluster node or sentinel) decides what else we
ask it. A fresh connection learns that from a first `INFO ALL`; after that,
every scrape is a single pipeline.
"""

from __future__ import annotations

import logging
import time

from cachescope.config.records import TargetConfig
from cachescope.errors import ScrapeError
from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import Labels
from cachescope.logs import fields
from cachescope.redis import (
    capabilities,
    clients,
    cluster,
    identity,
    latency_histogram,
    search,
    sections,
    sentinel,
    slowlog,
)
from cachescope.redis.client import RedisConnection, ReplyError
from cachescope.redis.parse import parse_config_get, parse_info

log = logging.getLogger(__name__)

Command = tuple[str, ...]
INFO: Command = ("INFO", "ALL")
# Modules' own sections (RediSearch's search_*...) are left out of INFO ALL on every
# version; INFO MODULES gives them on 6.2 to 8.x. Sent only where INFO ALL lists a
# module, so a server without one is asked nothing more.
INFO_MODULES: Command = ("INFO", "MODULES")
CLUSTER_INFO: Command = ("CLUSTER", "INFO")
CLUSTER_NODES: Command = ("CLUSTER", "NODES")
SENTINEL_MASTERS: Command = ("SENTINEL", "MASTERS")
SLOWLOG_LEN: Command = ("SLOWLOG", "LEN")
SLOWLOG_GET: Command = ("SLOWLOG", "GET", "1")
LATENCY_LATEST: Command = ("LATENCY", "LATEST")
# Redis 7.0+: older servers would answer with an error reply, so they are not asked. A
# look-alike's refusal is remembered as "LATENCY HISTOGRAM": LATENCY LATEST still runs.
LATENCY_HISTOGRAM: Command = ("LATENCY", "HISTOGRAM")
# Last in the pipeline when --redis.client-breakdown is on: the largest reply we ask for.
CLIENT_LIST: Command = ("CLIENT", "LIST")
# Settings redis_exporter exports as redis_config_*; `databases` sizes the
# zero-filled redis_db_keys series. Redis before 7.0 takes one name per
# CONFIG GET, so there we send one call per name, in the same round trip.
CONFIG_METRICS = ("maxmemory", "maxclients", "io-threads")
CONFIG_NAMES = CONFIG_METRICS + ("databases",)


def server_mode(fields: dict[str, str]) -> str:
    """'sentinel', 'cluster' or 'standalone'."""
    mode = fields.get("redis_mode") or fields.get("server_mode") or "standalone"
    if fields.get("cluster_enabled") == "1":
        return "cluster"
    return mode if mode in ("sentinel", "cluster") else "standalone"


class RedisCollector:
    """Scrapes one Redis server over a persistent connection."""

    namespace = "redis"

    def __init__(self, target: TargetConfig) -> None:
        self.target = target
        self.connection = RedisConnection(target)
        self._reported: set[str] = set()  # refusals logged at warning level once
        # INFO's role at the last successful scrape: a failed scrape's redis_up 0 keeps
        # it, so that with the role label on an outage does not start new series.
        self.role = ""
        self.histograms = latency_histogram.Sampler(target.redis.latency_histograms_every)
        self._base_labels: Labels = ()
        indexes = target.redis.search_indexes
        self.search = search.SearchIndexes(target.name, indexes) if indexes else None

    def close(self) -> None:
        self.connection.close()

    def _commands(self, mode: str, masters: list[str]) -> list[Command]:
        """Everything but INFO for a server of this mode, less what it refused before."""
        refused = self.connection.unavailable
        if mode == "sentinel":
            commands = [SENTINEL_MASTERS]
            for name in masters:
                commands += [
                    ("SENTINEL", "CKQUORUM", name),
                    ("SENTINEL", "REPLICAS", name),
                    ("SENTINEL", "SENTINELS", name),
                ]
            return commands
        commands = []
        if self.connection.modules and " ".join(INFO_MODULES) not in refused:
            commands.append(INFO_MODULES)
        config = self.target.config_command
        if config and config not in refused:
            if self.connection.version >= (7,):  # one call, so a refusal costs one error reply
                commands.append((config, "GET", *CONFIG_NAMES))
            else:
                commands += [(config, "GET", name) for name in CONFIG_NAMES]
        if "SLOWLOG" not in refused:
            commands += [SLOWLOG_LEN, SLOWLOG_GET]
        if "LATENCY" not in refused:
            commands.append(LATENCY_LATEST)
            if self._histograms_wanted():
                commands.append(LATENCY_HISTOGRAM)
        if self.connection.commandlog and "COMMANDLOG" not in refused:
            commands += list(slowlog.COMMANDLOG)
        if mode == "cluster" and "CLUSTER" not in refused:
            commands += [CLUSTER_INFO, CLUSTER_NODES]
        if self.search is not None:
            commands += self.search.commands(refused, search.now())
        if self._client_list_skipped() is None:
            commands.append(CLIENT_LIST)
        return commands

    def _histograms_wanted(self) -> bool:
        """Whether LATENCY HISTOGRAM is asked now: wanted, Redis 7.0+, not refused, due."""
        conn = self.connection
        return (
            self.target.redis.latency_histograms
            and conn.version >= (7,)
            and " ".join(LATENCY_HISTOGRAM) not in conn.unavailable
            and self.histograms.due(self._base_labels)
        )

    def _client_list_skipped(self) -> str | None:
        """Why CLIENT LIST is not sent this time, or None when it is (or is not wanted)."""
        conn = self.connection
        if not self.target.redis.client_breakdown:
            return "off"
        if "CLIENT" in conn.unavailable:
            return "refused"
        if conn.clients > clients.MAX_CLIENTS:  # as the last INFO counted them
            return "too_many_clients"
        return None

    def _run(self, commands: list[Command], deadline: float) -> dict[Command, object]:
        """One round trip; replies by command, refused commands left out."""
        replies = self.connection.execute(commands, deadline) if commands else []
        result: dict[Command, object] = {}
        for command, reply in zip(commands, replies, strict=True):
            if isinstance(reply, ReplyError):
                self._refused(command, reply)
            else:
                result[command] = reply
        return result

    def _probe(self, commands: list[Command], deadline: float) -> dict[Command, object]:
        """First scrape of a connection: one call per command first, the rest if it is there.

        So a command the server lacks costs it one error reply per connection, not
        one per call (Redis 6 takes four CONFIG GET calls; SLOWLOG two).
        """
        firsts: dict[str, Command] = {}
        for command in commands:
            firsts.setdefault(command[0], command)
        replies = self._run(list(firsts.values()), deadline)
        refused = self.connection.unavailable
        rest = [c for c in commands if c not in replies and c[0] not in refused]
        replies.update(self._run([c for c in rest if firsts[c[0]] != c], deadline))
        return replies

    def collect(self, metrics: MetricSet, deadline: float) -> None:
        """Fetch everything (one round trip once the server is known) and add it to `metrics`."""
        conn = self.connection
        role_label = self.target.redis.append_instance_role_label
        if role_label:
            metrics.rebase(identity.with_role(metrics.base_labels, self.role))
        self._base_labels = metrics.base_labels  # what the histograms would be rendered with
        if conn.mode is None:
            self.histograms.forget()
            fields = _info_fields(self._run([INFO], deadline))
            self._learn(fields)
            replies = self._probe(self._commands(conn.mode or "", conn.masters), deadline)
        else:
            commands = [INFO] + self._commands(conn.mode, conn.masters)
            replies = self._run(commands, deadline)
            fields = _info_fields(replies)
            reopened = conn.mode is None  # closed while idle, reopened for this round trip
            self._learn(fields)
            if reopened:  # what the old connection found refused is asked again, once
                fresh = [c for c in self._commands(conn.mode, conn.masters) if c not in commands]
                replies.update(self._probe(fresh, deadline))
        if self.search is not None and conn.mode != "sentinel":
            extra = self.search.followup(replies, list(replies), search.now())
            replies.update(self._run(extra, deadline) if extra else {})
        sections.merge_module_fields(fields, replies.get(INFO_MODULES))
        if role_label:
            self.role = identity.role_of(fields)
            metrics.rebase(identity.with_role(metrics.base_labels, self.role))
        databases = sections.add_info(metrics, fields, time.time())
        capabilities.report_refusals(self.target, conn, self._reported)
        if conn.mode == "sentinel":
            self._add_sentinel(metrics, fields, replies)
            return
        capabilities.add_capabilities(metrics, self.target, conn)
        config = parse_config_get(
            [
                reply
                for command, reply in replies.items()
                if command[1:2] == ("GET",) and command[0] == self.target.config_command
            ]
        )
        sections.add_config(metrics, config, fields, CONFIG_METRICS)
        sections.add_keyspace(metrics, databases, _db_count(config, fields))
        self._add_clients(metrics, replies.get(CLIENT_LIST))
        if self.search is not None:
            self.search.add(metrics, replies)
        slowlog.add_slowlog(metrics, replies.get(SLOWLOG_LEN), replies.get(SLOWLOG_GET))
        slowlog.add_latency_spikes(metrics, replies.get(LATENCY_LATEST))
        if self.target.redis.latency_histograms and conn.version >= (7,):
            self.histograms.add(metrics, replies.get(LATENCY_HISTOGRAM), fields)
        slowlog.add_commandlog(metrics, replies)
        if conn.mode == "cluster":
            info, nodes = replies.get(CLUSTER_INFO), replies.get(CLUSTER_NODES)
            cluster.add_cluster(
                metrics,
                info if isinstance(info, bytes) else None,
                nodes if isinstance(nodes, bytes) else None,
            )

    def _learn(self, fields: dict[str, str]) -> None:
        """Remember what the server is, to choose next scrape's commands."""
        conn = self.connection
        conn.mode = server_mode(fields)
        conn.masters = _sentinel_masters(fields) if conn.mode == "sentinel" else []
        conn.version = _version(fields.get("redis_version", ""))
        conn.modules = "module" in fields
        count = fields.get("connected_clients", "")
        conn.clients = int(count) if count.isdecimal() else 0
        # Valkey says redis_version:7.2.4 for compatibility; its own version is apart.
        conn.commandlog = fields.get("server_name") == "valkey" and _version(
            fields.get("valkey_version", "")
        ) >= (8, 1)

    def _add_clients(self, metrics: MetricSet, reply: object) -> None:
        """The connection breakdown, or why this scrape has none."""
        reason = self._client_list_skipped()
        if reason == "off":
            return
        if reason is None and isinstance(reply, bytes):
            if len(reply) <= clients.MAX_REPLY_BYTES:
                clients.add_breakdown(metrics, clients.parse_client_list(reply))
                return
            reason = "reply_too_large"
        clients.add_skipped(metrics, reason or "refused", self.target.name, self._reported)

    def _add_sentinel(
        self, metrics: MetricSet, fields: dict[str, str], replies: dict[Command, object]
    ) -> None:
        sentinel.add_sentinel_info(metrics, fields)
        for master in sentinel.entries(replies.get(SENTINEL_MASTERS)):
            name = master.get("name", "")
            sentinel.add_master_details(
                metrics,
                master,
                replies.get(("SENTINEL", "CKQUORUM", name), "no reply"),
                replies.get(("SENTINEL", "REPLICAS", name)),
                replies.get(("SENTINEL", "SENTINELS", name)),
            )

    def _refused(self, command: Command, reply: ReplyError) -> None:
        text = str(reply)
        if command == INFO:
            raise ScrapeError(
                _INFO_REFUSALS.get(text.split(" ", 1)[0], "command"), f"INFO failed: {text}"
            )
        if command[:2] == ("SENTINEL", "CKQUORUM"):
            return  # a failed quorum check is an answer, not a refusal
        refused = self.connection.unavailable
        if command == INFO_MODULES:  # any error: a look-alike without it; not asked again
            refused.setdefault(" ".join(command), text)
            return
        if command == LATENCY_HISTOGRAM and capabilities.is_refusal(text):
            refused.setdefault(" ".join(command), text)  # not "LATENCY": LATEST still runs
            return
        if command[0] == search.FT_INFO and self.search and not capabilities.is_refusal(text):
            self.search.failed(command[1], text, search.now())
        elif command[0] not in refused and capabilities.is_refusal(text):
            refused[command[0]] = text
        elif command[0] not in refused:
            failed = fields(target=self.target.name, command=command[0], error=text)
            log.debug("command failed this time", extra=failed)


# Why INFO itself was refused, by the reply's first word; the kind picks the hint.
_INFO_REFUSALS = {
    "NOAUTH": "auth",
    "WRONGPASS": "auth",
    "LOADING": "loading",  # proxies and old forks answer LOADING to everything
    "BUSY": "script",
}


def _version(text: str) -> tuple[int, ...]:
    """(7, 2, 4) from '7.2.4'; Dragonfly's 'df-v1.2.3' parts that are not numbers are left out."""
    return tuple(int(part) for part in text.split(".") if part.isdecimal())


def _info_fields(replies: dict[Command, object]) -> dict[str, str]:
    info = replies.get(INFO)
    if not isinstance(info, bytes):
        raise ScrapeError("command", "INFO returned no data")
    return parse_info(info)


def _sentinel_masters(fields: dict[str, str]) -> list[str]:
    return [
        value.split(",", 1)[0][5:]
        for key, value in fields.items()
        if key.startswith("master") and key[6:].isdecimal() and value.startswith("name=")
    ]


def _db_count(config: dict[str, str], fields: dict[str, str]) -> int:
    if fields.get("cluster_enabled") == "1":
        return 1
    databases = config.get("databases", "")
    return int(databases) if databases.isdecimal() else 16
