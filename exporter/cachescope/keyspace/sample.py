"""What a pass over the keyspace found, and the estimates it gives (pure: no I/O).

redis_key_group_keys_estimated{db="db0",key_group="user"} 120000
redis_key_group_memory_bytes_estimated{db="db0",key_group="user"} 9.6e+06
redis_key_group_no_ttl_keys_estimated{db="db0",key_group="user"} 0
redis_big_key_memory_bytes{db="db0",key="feed:42",type="list"} 1.2e+06
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
from fnmatch import fnmatchcase
from typing import NamedTuple

from cachescope.config.keyspace import KeyspaceConfig
from cachescope.exposition.textformat import GAUGE, Labels

OTHER_GROUP = "other"


class KeyspaceMetric(NamedTuple):
    """One series the sampler found, with its family's name, type and help.

    Not exposition's Sample (a parsed line): this is a value yet to be added to a scrape.
    """

    name: str
    type: str
    help: str
    value: float
    labels: Labels


@dataclasses.dataclass
class Group:
    keys: int = 0
    memory: float = 0.0
    no_ttl: int = 0


@dataclasses.dataclass
class DbSample:
    """What one database's part of a cycle saw."""

    size: int = 0  # DBSIZE when the cycle looked
    sampled: int = 0
    groups: dict[str, Group] = dataclasses.field(default_factory=dict)
    by_memory: list[tuple[float, str, str]] = dataclasses.field(default_factory=list)
    by_elements: list[tuple[float, str, str]] = dataclasses.field(default_factory=list)
    by_frequency: list[tuple[float, str, str]] = dataclasses.field(default_factory=list)


class Findings:
    """Accumulates the keys a pass samples, over its cycles, then renders the estimates."""

    def __init__(self, config: KeyspaceConfig) -> None:
        self.config = config
        self.dbs: dict[int, DbSample] = {}

    def db(self, index: int) -> DbSample:
        return self.dbs.setdefault(index, DbSample())

    def group_of(self, key: str) -> str:
        for group in self.config.groups:
            if fnmatchcase(key, group.pattern):
                return group.name
        depth = self.config.prefix_depth
        delimiter = self.config.prefix_delimiter
        if depth and delimiter in key:
            return delimiter.join(key.split(delimiter)[:depth])
        return OTHER_GROUP

    def add(
        self,
        db: int,
        key: str,
        kind: str,
        ttl_ms: int,
        memory: float | None,
        elements: float | None,
        frequency: float | None,
    ) -> None:
        """One sampled key: its type, PTTL (-1: none), memory, element count, LFU counter."""
        sample = self.db(db)
        sample.sampled += 1
        name = self.group_of(key)
        if name not in sample.groups and len(sample.groups) >= self.config.max_groups:
            name = OTHER_GROUP
        group = sample.groups.setdefault(name, Group())
        group.keys += 1
        group.memory += memory or 0.0
        group.no_ttl += ttl_ms == -1
        top = self.config.top
        for heap, value in (
            (sample.by_memory, memory),
            (sample.by_elements, elements),
            (sample.by_frequency, frequency),
        ):
            if value is not None:
                item = (value, key, kind)
                if len(heap) < top:
                    heapq.heappush(heap, item)
                elif item > heap[0]:
                    heapq.heapreplace(heap, item)

    def label(self, key: str) -> str:
        if self.config.key_names == "hash":
            return (
                "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]
            )
        return key

    def samples(self, hot_keys_supported: bool) -> list[KeyspaceMetric]:
        """Estimates scaled from the sample to the whole database."""
        out: list[KeyspaceMetric] = []
        for index, sample in sorted(self.dbs.items()):
            db = ("db", f"db{index}")
            out.append(
                KeyspaceMetric(
                    "redis_keyspace_sampled_keys",
                    GAUGE,
                    "Keys the reported pass looked at (the last whole one, else the running one).",
                    sample.sampled,
                    (db,),
                )
            )
            scale = sample.size / sample.sampled if sample.sampled else 0.0
            for name, group in sorted(sample.groups.items()):
                labels = (db, ("key_group", name))
                out += [
                    KeyspaceMetric(
                        "redis_key_group_keys_estimated",
                        GAUGE,
                        "Keys in the group, estimated from the sample.",
                        group.keys * scale,
                        labels,
                    ),
                    KeyspaceMetric(
                        "redis_key_group_memory_bytes_estimated",
                        GAUGE,
                        "Memory of the group's keys, estimated from the sample.",
                        group.memory * scale,
                        labels,
                    ),
                    KeyspaceMetric(
                        "redis_key_group_no_ttl_keys_estimated",
                        GAUGE,
                        "Keys of the group without a TTL, estimated from the sample.",
                        group.no_ttl * scale,
                        labels,
                    ),
                ]
            out += self._top(
                db,
                sample.by_memory,
                "redis_big_key_memory_bytes",
                "Biggest sampled keys by MEMORY USAGE.",
            )
            out += self._top(
                db,
                sample.by_elements,
                "redis_big_key_elements",
                "Biggest sampled keys by element count (bytes for strings).",
            )
            if hot_keys_supported:
                out += self._top(
                    db,
                    sample.by_frequency,
                    "redis_hot_key_lfu_frequency",
                    "Hottest sampled keys by OBJECT FREQ (a logarithmic counter).",
                )
        return out

    def _top(
        self, db: tuple[str, str], heap: list[tuple[float, str, str]], name: str, help_: str
    ) -> list[KeyspaceMetric]:
        seen: set[str] = set()  # SCAN may return a key twice in a pass: keep its highest
        out = []
        for value, key, kind in sorted(heap, reverse=True):
            if key not in seen:
                seen.add(key)
                labels = (db, ("key", self.label(key)), ("type", kind))
                out.append(KeyspaceMetric(name, GAUGE, help_, value, labels))
        return out
