"""Replication from INFO: a replica's link to its primaries, a primary's replicas.

redis_master_link_up{master_host="10.0.0.1",master_port="6379"} 1
redis_connected_slave_lag_bytes{slave_ip="10.0.0.2",slave_port="6379"} 0
"""

from __future__ import annotations

from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import GAUGE, Labels
from cachescope.redis.parse import to_float

MASTER_FIELDS = {
    "master_last_io_seconds_ago": (
        "redis_master_last_io_seconds_ago",
        "Seconds since the last interaction with the primary.",
    ),
    "master_sync_in_progress": (
        "redis_master_sync_in_progress",
        "Whether the replica is syncing from its primary.",
    ),
    "slave_repl_offset": ("redis_slave_repl_offset", "Replication offset of this replica."),
}


def add_master_field(metrics: MetricSet, key: str, value: str, master: Labels) -> None:
    """One field of the link to the (first) primary: its status, last I/O, sync, offset."""
    if key == "master_link_status":
        up = 1.0 if value == "up" else 0.0
        metrics.add(
            "redis_master_link_up", GAUGE, "Whether the link to the primary is up.", up, master
        )
        return
    name, help_ = MASTER_FIELDS[key]
    metrics.add(name, GAUGE, help_, to_float(value) or 0.0, master)


def is_numbered_master(key: str) -> bool:
    """KeyDB's `master_<n>_<field>`, one group per primary after the first."""
    if not key.startswith("master_"):
        return False
    index, sep, _ = key[7:].partition("_")
    return bool(sep) and index.isdecimal()


def add_other_masters(metrics: MetricSet, fields: dict[str, str]) -> None:
    """The link of each further primary of a multi-master replica (KeyDB), as for the first."""
    n = 1
    while f"master_{n}_host" in fields:
        prefix = f"master_{n}_"
        labels = (
            ("master_host", fields[prefix + "host"]),
            ("master_port", fields.get(prefix + "port", "")),
        )
        status = fields.get(prefix + "link_status")
        if status is not None:
            up = 1.0 if status == "up" else 0.0
            metrics.add(
                "redis_master_link_up", GAUGE, "Whether the link to the primary is up.", up, labels
            )
        for field, key in (
            ("master_last_io_seconds_ago", prefix + "last_io_seconds_ago"),
            ("master_sync_in_progress", prefix + "sync_in_progress"),
            ("slave_repl_offset", f"slave_repl_offset#{n}"),  # repeated blocks only
        ):
            number = to_float(fields.get(key, ""))
            if number is not None:
                name, help_ = MASTER_FIELDS[field]
                metrics.add(name, GAUGE, help_, number, labels)
        n += 1


def add_replica(metrics: MetricSet, replica: dict[str, str], primary: float | None) -> None:
    labels = (
        ("slave_ip", replica.get("ip", "")),
        ("slave_port", replica.get("port", "")),
        ("slave_state", replica.get("state", "")),
    )
    offset = to_float(replica.get("offset", ""))
    if offset is not None:
        metrics.add(
            "redis_connected_slave_offset_bytes",
            GAUGE,
            "Replication offset acknowledged by a replica.",
            offset,
            labels,
        )
        if primary is not None:
            # How far behind the replica is, in bytes, from one consistent INFO:
            # comparing offsets scraped from two servers would mix two moments.
            metrics.add(
                "redis_connected_slave_lag_bytes",
                GAUGE,
                "Bytes of replication stream the replica has not acknowledged.",
                max(primary - offset, 0.0),
                labels[:2],
            )
    lag = to_float(replica.get("lag", ""))
    if lag is not None:
        metrics.add(
            "redis_connected_slave_lag_seconds",
            GAUGE,
            "Seconds since the replica last acknowledged.",
            lag,
            labels,
        )
