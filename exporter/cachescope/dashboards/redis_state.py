"""Redis instance: replication and persistence."""

from __future__ import annotations

from typing import Any

from cachescope.dashboards import grafana
from cachescope.dashboards.bounds import Bound
from cachescope.dashboards.common import series

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
