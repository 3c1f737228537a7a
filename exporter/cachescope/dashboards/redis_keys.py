"""Redis instance: keys per db, TTL coverage, and the keyspace sampler's findings."""

from __future__ import annotations

from typing import Any

from cachescope.dashboards import grafana
from cachescope.dashboards.bounds import Bound
from cachescope.dashboards.common import q, series

I = "{{instance}}"  # noqa: E741 (a legend, read as "instance")


def keyspace(t: dict[str, Any]) -> list[grafana.Panel]:
    """Keys per db and how many of them expire."""
    db = f"{I} {{{{db}}}}"
    return [
        series(
            t,
            "Keys per db",
            [("redis_db_keys{SEL} > 0", db), ("redis_db_keys_expiring{SEL} > 0", f"{db} with TTL")],
            "From INFO keyspace.",
            "short",
        ),
        series(
            t,
            "Keys without TTL per db",
            [
                ("1 - redis_db_keys_expiring{SEL} / (redis_db_keys{SEL} > 0)", db),
            ],
            "Share of keys that never expire. The alert counts only instances above 1000 keys"
            " that are used as a cache.",
            "percentunit",
            [Bound("RedisKeysWithoutTtl")],
        ),
        series(
            t,
            "Average TTL per db",
            [("redis_db_avg_ttl_seconds{SEL} > 0", db)],
            "Average remaining TTL of the keys that have one.",
            "s",
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
    big = t["alerts"]["RedisBigKeys"]
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
                (
                    "redis_key_group_no_ttl_keys_estimated{SEL}"
                    " / (redis_key_group_keys_estimated{SEL} > 0)",
                    group,
                ),
            ],
            "Share of each family's keys that never expire: leaked tag sets, versioned keys."
            " The alert wants the family above 1000 keys and still growing.",
            "percentunit",
            [Bound("RedisKeyGroupWithoutTtl")],
        ),
        series(
            t,
            "Biggest sampled key per db",
            [("max by (instance, db) (redis_big_key_memory_bytes{SEL})", f"{I} {{{{db}}}}")],
            "MEMORY USAGE of the biggest key of the latest sample; the Big keys table names it.",
            "bytes",
            [Bound("RedisBigKeys")],
        ),
        _top_table(
            "Big keys",
            f"topk(10, redis_big_key_memory_bytes{{SEL}} > {big['notable']})",
            "memory",
            "bytes",
            f"The biggest keys of the last whole pass, by MEMORY USAGE, above {big['notable']}"
            " bytes (RedisBigKeys' notable threshold: a value above 100 KB is too big for a"
            " cache).",
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
