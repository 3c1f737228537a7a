"""Explicit key checks and stream metrics, run once per sampling cycle (redis_exporter names).

redis_key_size{db="db0",key="write_queue"} 1523
redis_stream_length{db="db0",stream="events"} 10000
redis_stream_group_messages_pending{db="db0",stream="events",group="mailer"} 12
redis_stream_group_lag{db="db0",stream="events",group="mailer"} 40
"""

from __future__ import annotations

from collections.abc import Callable

from cachescope.config.keyspace import KeyspaceConfig
from cachescope.exposition.textformat import GAUGE
from cachescope.keyspace.sample import KeyspaceMetric
from cachescope.redis.parse import as_text

Run = Callable[[list[tuple[str | int | bytes, ...]]], list[object]]
# The O(1) length command of each type; for strings, the length in bytes.
LENGTH = {
    "string": "STRLEN",
    "list": "LLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "hash": "HLEN",
    "stream": "XLEN",
}


def _pairs(reply: object) -> dict[str, object]:
    """A flat [field, value, ...] reply as a dict keyed by text."""
    if not isinstance(reply, list):
        return {}
    return {as_text(reply[i]): reply[i + 1] for i in range(0, len(reply) - 1, 2)}


def check_keys(
    run: Run, db: int, config: KeyspaceConfig, label: Callable[[str], str]
) -> list[KeyspaceMetric]:
    """redis_key_size for each configured key of this database that exists."""
    keys = [checked.key for checked in config.check_keys if checked.db == db]
    if not keys:
        return []
    kinds = [as_text(kind) for kind in run([("TYPE", key) for key in keys])]
    present = [(key, kind) for key, kind in zip(keys, kinds, strict=True) if kind in LENGTH]
    sizes = run([(LENGTH[kind], key) for key, kind in present]) if present else []
    return [
        KeyspaceMetric(
            "redis_key_size",
            GAUGE,
            "Length of a checked key: elements, or bytes for strings.",
            float(size),
            (("db", f"db{db}"), ("key", label(key))),
        )
        for (key, _), size in zip(present, sizes, strict=True)
        if isinstance(size, int)
    ]


def stream_metrics(
    run: Run, db: int, config: KeyspaceConfig, label: Callable[[str], str]
) -> list[KeyspaceMetric]:
    """Length and groups of each configured stream; per group consumers, pending and lag."""
    names = [stream.key for stream in config.streams if stream.db == db]
    if not names:
        return []
    commands: list[tuple[str | int | bytes, ...]] = []
    for name in names:
        commands += [("XINFO", "STREAM", name), ("XINFO", "GROUPS", name)]
    replies = run(commands)
    out: list[KeyspaceMetric] = []
    for i, name in enumerate(names):
        info, groups = _pairs(replies[2 * i]), replies[2 * i + 1]
        if not info:
            continue  # not a stream, or missing
        labels = (("db", f"db{db}"), ("stream", label(name)))
        for field, metric, help_ in (
            ("length", "redis_stream_length", "Entries in the stream."),
            ("groups", "redis_stream_groups", "Consumer groups of the stream."),
        ):
            value = info.get(field)
            if isinstance(value, int):
                out.append(KeyspaceMetric(metric, GAUGE, help_, float(value), labels))
        for group in groups if isinstance(groups, list) else []:
            out += _group(labels, _pairs(group))
    return out


def _group(labels: tuple[tuple[str, str], ...], group: dict[str, object]) -> list[KeyspaceMetric]:
    labels = labels + (("group", as_text(group.get("name", b""))),)
    out: list[KeyspaceMetric] = []
    for field, metric, help_ in (
        ("consumers", "redis_stream_group_consumers", "Consumers in the group."),
        ("pending", "redis_stream_group_messages_pending", "Entries delivered, not acknowledged."),
        ("lag", "redis_stream_group_lag", "Entries not yet delivered to the group (Redis 7+)."),
    ):
        value = group.get(field)
        if isinstance(value, int):
            out.append(KeyspaceMetric(metric, GAUGE, help_, float(value), labels))
    return out
