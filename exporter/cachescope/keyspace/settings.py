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
from collections.abc import Callable
from typing import Any

Path = tuple[str | int, ...]
ErrorFactory = Callable[[Path, str], Exception]

_KEYS = {
    "interval",
    "keys_per_cycle",
    "commands_per_second",
    "time_cap",
    "scan_count",
    "memory_samples",
    "groups",
    "prefix",
    "max_groups",
    "top",
    "key_names",
    "check_keys",
    "streams",
    "prefer_replica",
    "max_series",
}
# The largest sane value of each count: beyond these the sampler would be a load test.
_COUNT_LIMITS = {
    "keys_per_cycle": 10_000_000,
    "commands_per_second": 1_000_000,
    "scan_count": 100_000,
    "memory_samples": 10_000,
    "max_groups": 10_000,
    "top": 1_000,
    "max_series": 1_000_000,
}
# (lowest, highest) seconds: a cycle at most daily, a cap of at most an hour.
_DURATION_LIMITS = {"interval": (1.0, 86_400.0), "time_cap": (0.001, 3_600.0)}
_MAX_PREFIX_DEPTH = 16


@dataclasses.dataclass(frozen=True)
class KeyspaceConfig:
    interval: float = 300.0
    keys_per_cycle: int = 5_000
    commands_per_second: int = 1_000
    time_cap: float = 30.0
    scan_count: int = 100
    memory_samples: int = 5
    groups: tuple[tuple[str, str], ...] = ()  # (name, glob)
    prefix_delimiter: str = ":"
    prefix_depth: int = 1  # 0: only the configured groups, the rest is "other"
    max_groups: int = 50
    top: int = 10
    key_names: str = "plain"
    check_keys: tuple[tuple[int, str], ...] = ()  # (db, key)
    streams: tuple[tuple[int, str], ...] = ()
    prefer_replica: bool = False
    max_series: int = 2_000


def parse_keyspace(
    value: Any, path: Path, error: ErrorFactory, duration: Callable[[Any], float]
) -> KeyspaceConfig:
    """Validate a `keyspace:` mapping; `error(path, message)` makes the located error."""
    if value is True:
        return KeyspaceConfig()
    if not isinstance(value, dict):
        raise error(path, "must be a mapping (or true for the defaults)")
    for key in value:
        if key not in _KEYS:
            raise error(path + (key,), f"unknown field (known: {', '.join(sorted(_KEYS))})")
    options: dict[str, Any] = {}
    for key, (low, high) in _DURATION_LIMITS.items():
        if key in value:
            try:
                seconds = duration(value[key])
            except ValueError as exc:
                raise error(path + (key,), str(exc)) from None
            if not low <= seconds <= high:
                raise error(path + (key,), f"must be between {low:g}s and {high:g}s")
            options[key] = seconds
    for key, high in _COUNT_LIMITS.items():
        if key in value:
            number = value[key]
            if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= high:
                raise error(path + (key,), f"must be a whole number between 1 and {high}")
            options[key] = number
    if "key_names" in value:
        if value["key_names"] not in ("plain", "hash"):
            raise error(path + ("key_names",), "must be plain or hash")
        options["key_names"] = value["key_names"]
    if "prefer_replica" in value:
        if not isinstance(value["prefer_replica"], bool):
            raise error(path + ("prefer_replica",), "must be true or false")
        options["prefer_replica"] = value["prefer_replica"]
    options["groups"] = tuple(_groups(value.get("groups") or [], path + ("groups",), error))
    if "prefix" in value:
        options.update(_prefix(value["prefix"], path + ("prefix",), error))
    for key in ("check_keys", "streams"):
        options[key] = tuple(_db_keys(value.get(key) or [], path + (key,), error))
    return KeyspaceConfig(**options)


def _groups(items: Any, path: Path, error: ErrorFactory) -> list[tuple[str, str]]:
    if not isinstance(items, list):
        raise error(path, "must be a list of {name, pattern}")
    groups = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"name", "pattern"}:
            raise error(path + (i,), "must be a mapping with name and pattern")
        groups.append((str(item["name"]), str(item["pattern"])))
    return groups


def _prefix(item: Any, path: Path, error: ErrorFactory) -> dict[str, Any]:
    if item is False:
        return {"prefix_depth": 0}
    if not isinstance(item, dict) or not set(item) <= {"delimiter", "depth"}:
        raise error(path, "must be a mapping with delimiter and depth (or false)")
    depth = item.get("depth", 1)
    if not isinstance(depth, int) or isinstance(depth, bool) or not 0 <= depth <= _MAX_PREFIX_DEPTH:
        raise error(
            path + ("depth",), f"must be a whole number up to {_MAX_PREFIX_DEPTH}, 0: no prefixes"
        )
    delimiter = str(item.get("delimiter", ":"))
    if not delimiter:
        raise error(path + ("delimiter",), "must not be empty")
    return {"prefix_delimiter": delimiter, "prefix_depth": depth}


def _db_keys(items: Any, path: Path, error: ErrorFactory) -> list[tuple[int, str]]:
    """'key' (database 0) or 'N:key'."""
    if not isinstance(items, list):
        raise error(path, "must be a list of [db:]key")
    result = []
    for i, item in enumerate(items):
        text = str(item)
        db, sep, key = text.partition(":")
        if sep and db.isdecimal():
            result.append((int(db), key))
        elif text:
            result.append((0, text))
        else:
            raise error(path + (i,), "must not be empty")
    return result
