"""Redis instance: memory, hit ratio, commands and latency, keyspace, clients, errors."""

from __future__ import annotations

from typing import Any

from cachescope.dashboards import grafana, redis_keys, redis_ops, redis_search, redis_state
from cachescope.dashboards.bounds import Bound
from cachescope.dashboards.common import (
    RATE,
    UP_MAPPINGS,
    instance_variable,
    job_variable,
    series,
    single,
)

UID = "cachescope-redis"
I = "{{instance}}"  # noqa: E741 (a legend, read as "instance")


def overview(t: dict[str, Any]) -> list[grafana.Panel]:
    """One stat per question: is it up, fresh, full, useful, busy."""
    info = single(
        t,
        "Role and version",
        "redis_instance_info{SEL}",
        "Role (master or slave), version and eviction policy from INFO.",
        legend="{{role}} {{redis_version}} {{maxmemory_policy}}",
    )
    info["options"]["textMode"] = "name"
    return [
        single(
            t,
            "Up",
            "redis_up{SEL}",
            "1 if cachescope's last scrape worked.",
            runbooks=["RedisDown"],
            mappings=UP_MAPPINGS,
        ),
        info,
        single(
            t,
            "Uptime",
            "redis_uptime_in_seconds{SEL}",
            "Since the last restart; red while RedisRestarted would fire (cold cache).",
            "s",
            [Bound("RedisRestarted")],
        ),
        single(
            t,
            "Memory / maxmemory",
            "instance:redis_memory_utilization:ratio{SEL}",
            "used_memory / maxmemory; empty when maxmemory is 0.",
            "percentunit",
            [Bound("RedisMemoryNearLimit")],
        ),
        single(
            t,
            "Hit ratio (5m)",
            "instance:redis_keyspace_hit_ratio:ratio_rate5m{SEL}",
            "keyspace_hits / (hits + misses) over 5 minutes; empty without lookups.",
            "percentunit",
            [Bound("RedisHitRatioLow")],
        ),
        single(
            t,
            "Ops/s (5m)",
            "instance:redis_commands_processed:rate5m{SEL}",
            "Commands processed per second.",
            "ops",
        ),
    ]


def memory(t: dict[str, Any]) -> list[grafana.Panel]:
    """Where the memory goes, and how close the limit is."""
    return [
        series(
            t,
            "Memory breakdown",
            [
                ("redis_memory_used_bytes{SEL}", f"{I} used"),
                ("redis_memory_used_dataset_bytes{SEL}", f"{I} dataset"),
                ("redis_memory_used_overhead_bytes{SEL}", f"{I} overhead"),
                ("redis_memory_used_rss_bytes{SEL}", f"{I} RSS"),
                ("redis_memory_max_bytes{SEL} > 0", f"{I} maxmemory"),
            ],
            "Used = dataset + overhead (buffers, replication backlog); RSS is what the OS gave.",
            "bytes",
        ),
        series(
            t,
            "RSS / host memory",
            [
                (
                    "redis_memory_used_rss_bytes{SEL}\n"
                    "/ (redis_total_system_memory_bytes{SEL} > 0)",
                    I,
                ),
            ],
            "Resident memory against the host's: maxmemory leaves out buffers and"
            " fragmentation, and the OOM killer acts on RSS. The memory risk of a full LRU cache.",
            "percentunit",
            [Bound("RedisRssNearSystemMemory")],
            ["RedisEvictionsHigh"],
        ),
        series(
            t,
            "Memory / maxmemory where eviction cannot help",
            [
                (
                    "instance:redis_memory_utilization:ratio{SEL}\nand on (job, instance)"
                    ' redis_instance_info{SEL, maxmemory_policy=~"noeviction|volatile-.+"}',
                    I,
                ),
            ],
            "Instances with noeviction or a volatile-* policy: at 100% writes fail with OOM"
            " (under volatile-*, once too few keys have a TTL). Under allkeys-* full is normal.",
            "percentunit",
            [Bound("RedisMemoryNearLimit")],
            ["RedisOutOfMemoryErrors"],
        ),
        series(
            t,
            "Fragmentation ratio",
            [("redis_mem_fragmentation_ratio{SEL}", I)],
            "RSS / used. Above the high threshold memory is wasted, below 1 it is swapped. The"
            " alerts apply only above 100 MiB used: small instances show high ratios.",
            "none",
            [Bound("RedisFragmentationRatioLow"), Bound("RedisFragmentationHigh")],
        ),
        series(
            t,
            "RSS above used memory",
            [
                ("redis_memory_used_rss_bytes{SEL} - redis_memory_used_bytes{SEL}", I),
            ],
            "Memory the process holds beyond its data: waste the host pays for.",
            "bytes",
            [Bound("RedisRssFarAboveUsed")],
        ),
        series(
            t,
            "Evicted and expired keys/s",
            [
                ("instance:redis_evicted_keys:rate5m{SEL}", f"{I} evicted"),
                ("instance:redis_expired_keys:rate5m{SEL}", f"{I} expired"),
            ],
            "Evictions with a low hit ratio mean the cache is too small for its working set.",
            "short",
            runbooks=["RedisEvictionsHigh"],
        ),
    ]


def efficiency(t: dict[str, Any]) -> list[grafana.Panel]:
    """Does the cache serve reads."""
    return [
        series(
            t,
            "Hit ratio",
            [("instance:redis_keyspace_hit_ratio:ratio_rate5m{SEL}", I)],
            "Lookups served from cache over 5 minutes.",
            "percentunit",
            [Bound("RedisHitRatioLow")],
            width=12,
        ),
        series(
            t,
            "Hits and misses/s",
            [
                ("instance:redis_keyspace_hits:rate5m{SEL}", f"{I} hits"),
                ("instance:redis_keyspace_misses:rate5m{SEL}", f"{I} misses"),
            ],
            "A jump in misses is a stampede onto the database behind the cache.",
            "short",
            runbooks=["RedisMissSpike"],
            width=12,
        ),
    ]


def clients(t: dict[str, Any]) -> list[grafana.Panel]:
    """Connections: how many, blocked, refused, and how fast they come and go."""
    return [
        series(
            t,
            "Clients / maxclients",
            [
                ("redis_connected_clients{SEL} / (redis_config_maxclients{SEL} > 0)", I),
            ],
            "At 100% new connections are rejected.",
            "percentunit",
            [Bound("RedisConnectionsNearLimit")],
            width=6,
        ),
        series(
            t,
            "Blocked clients",
            [("redis_blocked_clients{SEL}", I)],
            "Clients in BLPOP, XREAD, WAIT ...",
            "short",
            [Bound("RedisBlockedClientsHigh")],
            width=6,
        ),
        series(
            t,
            "New connections/s",
            [
                (f"rate(redis_connections_received_total{{SEL}}[{RATE}])", I),
            ],
            "Connection churn: pooled clients open few.",
            "short",
            [Bound("RedisConnectionChurnHigh")],
            width=6,
        ),
        series(
            t,
            "Rejected connections/s",
            [
                (f"rate(redis_rejected_connections_total{{SEL}}[{RATE}])", I),
            ],
            "Refused at maxclients.",
            "short",
            runbooks=["RedisRejectedConnections"],
            width=6,
        ),
        series(
            t,
            "Connected clients",
            [("redis_connected_clients{SEL}", I)],
            "Client connections, the exporter's included.",
            "short",
            width=24,
        ),
    ]


def build(thresholds: dict[str, Any]) -> dict[str, Any]:
    """The Redis instance dashboard."""
    t = thresholds
    panels = [
        grafana.row("Overview"), *overview(t),
        grafana.row("Memory"), *memory(t),
        grafana.row("Hit ratio and misses"), *efficiency(t),
        grafana.row("Commands, latency and errors"), *redis_ops.commands(t),
        grafana.row("Keyspace and TTL"), *redis_keys.keyspace(t),
        grafana.row("Clients"), *clients(t),
        grafana.row("Replication"), *redis_state.replication(t),
        grafana.row("Persistence"), *redis_state.persistence(t),
        grafana.row("Slowlog and latency events"), *redis_ops.slow(t),
        grafana.row("Keyspace sampler"), *redis_keys.sampler(t),
        grafana.row("Search indexes"), *redis_search.indexes(t),
    ]  # fmt: skip
    return grafana.dashboard(
        UID,
        "Redis instance",
        "One Redis (or Valkey, KeyDB) server: is it up, full, useful, slow, replicated and"
        " saved; what its keyspace holds.",
        [job_variable("redis_up"), instance_variable("redis_up")],
        panels,
    )
