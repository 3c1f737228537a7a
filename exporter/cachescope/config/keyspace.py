"""The `keyspace:` block of a target: what the sampler looks at, and its budget.

keyspace:
  interval: 5m              # one sampling cycle every 5 minutes
  keys_per_cycle: 5000      # at most this many keys looked at per cycle
  commands_per_second: 1000 # the sampler's pace; it sleeps to keep it
  time_cap: 30s             # a cycle stops here, budget left or not
  groups:                   # named glob patterns, first match wins
    - {name: sessions, pattern: "sess:*"}
  prefix: {delimiter: ":", depth: 1}   # other keys grouped by first segment
  top: 10                   # biggest and hottest keys reported
  key_names: hash           # plain (default) or hash: key names in labels
  check_keys: ["write_queue", "3:tags:recent"]   # [db:]key, sizes every cycle
  streams: ["events"]       # [db:]stream, length, groups, pending, lag
  prefer_replica: true      # sample on an online replica when there is one
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

from cachescope.config.schema import (
    Bounds,
    Node,
    boolean,
    duration,
    integer,
    list_of,
    one_of,
    record,
    text,
    via,
)

_MAX_PREFIX_DEPTH = 16


class KeyGroup(NamedTuple):
    """A named group of keys: those matching a glob pattern."""

    name: str
    pattern: str


class DbKey(NamedTuple):
    """A key in a database: `check_keys` and `streams` entries."""

    db: int
    key: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class KeyspaceConfig:
    interval: float = 300.0
    keys_per_cycle: int = 5_000
    commands_per_second: int = 1_000
    time_cap: float = 30.0
    scan_count: int = 100
    memory_samples: int = 5
    groups: tuple[KeyGroup, ...] = ()
    prefix_delimiter: str = ":"
    prefix_depth: int = 1  # 0: only the configured groups, the rest is "other"
    max_groups: int = 50
    top: int = 10
    key_names: str = "plain"
    check_keys: tuple[DbKey, ...] = ()
    streams: tuple[DbKey, ...] = ()
    prefer_replica: bool = False
    max_series: int = 2_000


def parse_keyspace(node: Node) -> KeyspaceConfig | None:
    """A `keyspace:` mapping (true for the defaults; false or empty for none), checked."""
    if not node.value:
        return None
    if node.value is True:
        return KeyspaceConfig()
    fields = _KEYSPACE(node)
    for key in ("groups", "check_keys", "streams"):
        if key in fields:
            fields[key] = tuple(fields[key])
    return KeyspaceConfig(**fields.pop("prefix", {}), **fields)


def _prefix(node: Node) -> dict[str, object]:
    """`prefix: false` (no prefix groups), or its delimiter and depth."""
    if node.value is False:
        return {"prefix_depth": 0}
    fields = _PREFIX(node)
    return {"prefix_" + key: value for key, value in fields.items()}


def _group(node: Node) -> KeyGroup:
    fields = _GROUP(node)
    return KeyGroup(fields["name"], fields["pattern"])


def _delimiter(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


def _db_key(text: str) -> DbKey:
    """'key' (database 0) or 'N:key'."""
    db, sep, key = text.partition(":")
    if sep and db.isdecimal():
        return DbKey(int(db), key)
    if not text:
        raise ValueError("must not be empty")
    return DbKey(0, text)


_PREFIX = record({"delimiter": via(_delimiter), "depth": integer(0, _MAX_PREFIX_DEPTH)})
_GROUP = record({"name": text, "pattern": text}, required=("name", "pattern"))
# The largest sane value of each count: beyond these the sampler would be a load test.
_KEYSPACE = record(
    {
        # A cycle at most daily, a cap of at most an hour.
        "interval": duration(Bounds(1.0, 86_400.0)),
        "time_cap": duration(Bounds(0.001, 3_600.0)),
        "keys_per_cycle": integer(1, 10_000_000),
        "commands_per_second": integer(1, 1_000_000),
        "scan_count": integer(1, 100_000),
        "memory_samples": integer(1, 10_000),
        "max_groups": integer(1, 10_000),
        "top": integer(1, 1_000),
        "max_series": integer(1, 1_000_000),
        "key_names": one_of("plain", "hash"),
        "prefer_replica": boolean,
        "groups": list_of(_group),
        "prefix": _prefix,
        "check_keys": list_of(via(_db_key)),
        "streams": list_of(via(_db_key)),
    }
)
