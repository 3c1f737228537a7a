"""keyspace_report: the sampler's last pass as key groups, big and hot keys and streams.

Key names are reported (the exporter exports them as labels too); key values never are:
the sampler reads only types, TTLs, sizes and LFU counters.
"""

from __future__ import annotations

import time
from typing import Any

from cachescope.keyspace.sample import KeyspaceMetric
from cachescope.keyspace.sampler import Sampler

# Groups by estimated memory, and keys and streams by size, that an answer lists at most.
MAX_GROUPS = 50
MAX_KEYS = 20

_GROUP_FIELDS = {
    "redis_key_group_keys_estimated": "keys",
    "redis_key_group_memory_bytes_estimated": "memoryBytes",
    "redis_key_group_no_ttl_keys_estimated": "keysWithoutTtl",
}
# Family -> the list it is reported in, biggest value first.
_RANKED = {
    "redis_big_key_memory_bytes": "bigKeysByMemory",
    "redis_big_key_elements": "bigKeysByElements",
    "redis_hot_key_lfu_frequency": "hotKeys",
    "redis_key_size": "watchedKeys",
    "redis_stream_length": "streams",
    "redis_stream_group_lag": "streamGroupLag",
    "redis_stream_group_messages_pending": "streamGroupPending",
}


def report(target: str, sampler: Sampler) -> dict[str, Any]:
    """The reported pass of `sampler`, shaped for an assistant."""
    found = sampler.findings()
    progress = sampler.progress()
    answer: dict[str, Any] = {
        "target": target,
        "passesCompleted": progress.passes,
        "runningPassPercent": round(progress.ratio * 100, 1),
        "secondsPerPass": round(progress.estimated, 1),
        "lastCycleAgeSeconds": None
        if not found.finished
        else round(max(time.time() - found.finished, 0.0), 1),
    }
    if not found.samples:
        answer["note"] = "the sampler has not finished a cycle yet; ask again in a moment"
    answer["keyGroups"] = _groups(found.samples)
    for name, key in _RANKED.items():
        answer[key] = _ranked(found.samples, name)
    return answer


def _groups(samples: list[KeyspaceMetric]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for sample in samples:
        field = _GROUP_FIELDS.get(sample.name)
        if field is None:
            continue
        labels = dict(sample.labels)
        key = (labels.get("db", ""), labels.get("key_group", ""))
        group = groups.setdefault(key, {"db": key[0], "group": key[1]})
        group[field] = sample.value
    for group in groups.values():
        keys, bare = group.get("keys"), group.get("keysWithoutTtl")
        group["ttlCoveragePercent"] = (
            round((1 - bare / keys) * 100, 1) if keys and bare is not None else None
        )
    ranked = sorted(groups.values(), key=lambda g: -float(g.get("memoryBytes") or 0))
    return ranked[:MAX_GROUPS]


def _ranked(samples: list[KeyspaceMetric], name: str) -> list[dict[str, Any]]:
    chosen = sorted((s for s in samples if s.name == name), key=lambda s: -s.value)
    return [dict(sample.labels) | {"value": sample.value} for sample in chosen[:MAX_KEYS]]
