"""Redis instance, second half: replication, persistence, slow commands, keyspace sampler."""

from __future__ import annotations

from typing import Any

from cachescope.dashboards import grafana
from cachescope.dashboards.bounds import Bound
from cachescope.dashboards.common import q, series

I = "{{instance}}"  # noqa: E741 (a legend, read as "instance")
REPLICA = "{{slave_ip}}:{{slave_port}}"


def replication(t: dict[str, Any]) -> list[grafana.Panel]:
    """Primaries: their replicas' lag; replicas: their link."""
    return [
        series(
            t,
            "Replica lag (seconds since ack)",
            [
                ("redis_connected_slave_lag_seconds{SEL}", f"{I} -> {REPLICA}"),
            ],
            "On a primary, per replica: seconds since it last acknowledged.",
            "s",
            [Bound("RedisReplicaLagging")],
            ["RedisReplicaNotOnline"],
        ),
        series(
            t,
            "Replica lag (bytes)",
            [
                ("redis_connected_slave_lag_bytes{SEL}", f"{I} -> {REPLICA}"),
            ],
            "On a primary, per replica: its offset behind the primary's.",
            "bytes",
        ),
        series(
            t,
            "Replication offsets",
            [
                ("redis_master_repl_offset{SEL}", f"{I} primary offset"),
                ("redis_slave_repl_offset{SEL}", f"{I} replica offset"),
            ],
            "Offsets rise together when replication keeps up.",
            "bytes",
        ),
        series(
            t,
            "Link to primary",
            [
                ("redis_master_link_up{SEL}", f"{I} link up"),
                ("redis_master_sync_in_progress{SEL}", f"{I} syncing"),
            ],
            "On a replica: 1 while its link to the primary is up.",
            "short",
            runbooks=["RedisReplicaLinkDown"],
        ),
        series(
            t,
            "Seconds since primary I/O",
            [
                ("redis_master_last_io_seconds_ago{SEL}", I),
            ],
            "On a replica: time since it last heard from its primary.",
            "s",
        ),
        series(
            t,
            "Connected replicas",
            [("redis_connected_slaves{SEL}", I)],
            "On a primary: replicas attached now.",
            "short",
            runbooks=["RedisReplicaMissing"],
        ),
        series(
            t,
            "Full resyncs in the last hour",
            [
                ("increase(redis_replica_resyncs_full{SEL}[1h])", I),
            ],
            "Each one forks and copies the whole dataset. The window is the alert's hour.",
            "short",
            [Bound("RedisFullResyncs")],
            width=24,
        ),
    ]


def persistence(t: dict[str, Any]) -> list[grafana.Panel]:
    """Snapshots and the append-only file."""
    return [
        series(
            t,
            "Time since last save",
            [
                ("time() - redis_rdb_last_save_timestamp_seconds{SEL}", I),
            ],
            "Since the last successful RDB snapshot (or start). The alert applies only where"
            " snapshots are taken and there are changes.",
            "s",
            [Bound("RedisRdbSaveTooOld")],
        ),
        series(
            t,
            "Last save and AOF status",
            [
                ("redis_rdb_last_bgsave_status{SEL}", f"{I} RDB save"),
                ("redis_aof_last_write_status{SEL}", f"{I} AOF write"),
                ("redis_aof_last_bgrewrite_status{SEL}", f"{I} AOF rewrite"),
            ],
            "1 = ok, 0 = the last attempt failed.",
            "short",
            runbooks=["RedisRdbSaveFailed", "RedisAofWriteFailed", "RedisAofRewriteFailed"],
        ),
        series(
            t,
            "Changes since last save",
            [
                ("redis_rdb_changes_since_last_save{SEL}", I),
                ("redis_aof_enabled{SEL}", f"{I} AOF enabled"),
            ],
            "Writes a crash would lose without AOF.",
            "short",
        ),
    ]


def slow(t: dict[str, Any]) -> list[grafana.Panel]:
    """The slowlog and the latency monitor."""
    return [
        series(
            t,
            "Slowlog entries in 10 minutes",
            [
                ("increase(redis_slowlog_last_id{SEL}[10m])", I),
            ],
            "New slow commands (slowlog-log-slower-than); the window is the alert's.",
            "short",
            [Bound("RedisSlowlogGrowing")],
        ),
        series(
            t,
            "Latest slow command",
            [
                ("redis_last_slow_execution_duration_seconds{SEL}", I),
                ("redis_slowlog_length{SEL}", f"{I} slowlog length"),
            ],
            "Duration of the newest slowlog entry.",
            "s",
        ),
        series(
            t,
            "Latency events",
            [
                ("redis_latency_spike_duration_seconds{SEL}", f"{I} {{{{event_name}}}}"),
            ],
            "LATENCY LATEST: the latest spike per event (needs latency-monitor-threshold).",
            "s",
            [Bound("RedisLatencySpike")],
        ),
    ]


def _top_table(title: str, expr: str, value: str, unit: str, description: str) -> grafana.Panel:
    panel = grafana.table(
        title,
        [grafana.target(q(expr), instant=True)],
        description,
        [grafana.column("Value", value, unit)],
        sort_by=value,
        hide=["__name__", "job"],
        width=12,
        height=9,
    )
    return panel


def sampler(t: dict[str, Any]) -> list[grafana.Panel]:
    """The keyspace sampler's findings (targets with `keyspace:` configured)."""
    group = f"{I} {{{{db}}}} {{{{key_group}}}}"
    stream = f"{I} {{{{stream}}}} {{{{group}}}}"
    return [
        series(
            t,
            "Keys by key group",
            [("redis_key_group_keys_estimated{SEL}", group)],
            "Estimated from the latest sample, scaled to the database size.",
            "short",
        ),
        series(
            t,
            "Memory by key group",
            [("redis_key_group_memory_bytes_estimated{SEL}", group)],
            "Which key family eats the memory.",
            "bytes",
        ),
        series(
            t,
            "Keys without TTL by key group",
            [
                ("redis_key_group_no_ttl_keys_estimated{SEL}", group),
            ],
            "Families that never expire: leaked tag sets, versioned keys.",
            "short",
        ),
        _top_table(
            "Big keys",
            "topk(10, redis_big_key_memory_bytes{SEL})",
            "memory",
            "bytes",
            "The biggest keys of the latest sample, by MEMORY USAGE.",
        ),
        _top_table(
            "Hot keys",
            "topk(10, redis_hot_key_lfu_frequency{SEL})",
            "LFU frequency",
            "short",
            "The most used keys by OBJECT FREQ (LFU eviction policies only).",
        ),
        series(
            t,
            "Streams: length and lag",
            [
                ("redis_stream_length{SEL}", f"{I} {{{{stream}}}} length"),
                ("redis_stream_group_lag{SEL}", f"{stream} lag"),
                ("redis_stream_group_messages_pending{SEL}", f"{stream} pending"),
            ],
            "Configured streams: entries, and per consumer group the entries not yet read"
            " (lag) and read but not acknowledged (pending).",
            "short",
        ),
        series(
            t,
            "Checked keys: length",
            [("redis_key_size{SEL}", f"{I} {{{{key}}}}")],
            "Length of each key in check_keys, e.g. a write-behind queue.",
            "short",
        ),
        series(
            t,
            "Sample age",
            [("redis_keyspace_sample_age_seconds{SEL}", I)],
            "Seconds since the sampler's last cycle finished.",
            "s",
        ),
    ]


def panels(thresholds: dict[str, Any]) -> list[grafana.Panel]:
    """The rows of the second half."""
    t = thresholds
    return [
        grafana.row("Replication"), *replication(t),
        grafana.row("Persistence"), *persistence(t),
        grafana.row("Slowlog and latency events"), *slow(t),
        grafana.row("Keyspace sampler"), *sampler(t),
    ]  # fmt: skip
