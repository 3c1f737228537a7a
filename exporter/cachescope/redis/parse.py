"""Pure parsers for Redis replies: bytes or lists in, plain data out, no I/O."""

from __future__ import annotations

import math
from typing import NamedTuple

from cachescope.textcache import TextCache


class SlowlogEntry(NamedTuple):
    """The newest entry of `SLOWLOG GET 1`."""

    id: float
    duration: float  # seconds


class LatencySpike(NamedTuple):
    """One event's latest spike, from LATENCY LATEST."""

    event: str
    when: float  # unix time
    duration: float  # seconds


def parse_info(raw: bytes) -> dict[str, str]:
    """Parse an INFO reply into {field: value}. Section headers are dropped.

    Every field name in Redis' INFO is unique across sections (the repeated
    ones carry an index, like `slave0` or `db3`), except `module`, which we
    collect as `module`, `module#1`, ... Look-alike servers differ, and are
    brought to Redis' shape here so that everything after sees one format:

    - repeated replication blocks, one per primary (KeyDB 5's multi-master,
      Dragonfly's replica of several shards), become KeyDB 6's numbered
      `master_1_host`, `master_1_port`, ... for the second primary on;
    - Dragonfly's `# Errorstats` lines (`<error>:<count>`) become
      `errorstat_<error>:count=<count>`, and its old `# Commandstats` lines
      (`cmd_<NAME>:<calls>`) become `cmdstat_<name>:calls=<calls>`; its
      `unknown_<NAME>` lines, one per command name a client made up, are
      dropped rather than turned into an unbounded set of series.
    """
    fields: dict[str, str] = {}
    section = ""
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        if not line:
            continue
        if line[0] == "#":
            section = line[2:].lower()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if section in _FOREIGN_SECTIONS:
            key, value = _normalize(section, key, value)
            if not key:
                continue
        if key in fields:
            key = _renumber(fields, key)
        fields[key] = value
    return fields


_FOREIGN_SECTIONS = ("errorstats", "commandstats")


def _normalize(section: str, key: str, value: str) -> tuple[str, str]:
    """Dragonfly's errorstats and commandstats lines in Redis' format ('' to drop)."""
    if section == "errorstats":
        return (
            (key, value) if key.startswith("errorstat_") else (f"errorstat_{key}", f"count={value}")
        )
    if key.startswith("cmdstat_"):
        return key, value
    if key.startswith("cmd_"):
        return f"cmdstat_{key[4:].lower()}", f"calls={value}"
    return "", ""


def _renumber(fields: dict[str, str], key: str) -> str:
    """A name for the n-th repeat of `key`: `master_<n>_<rest>` or `<key>#<n>`."""
    n = 1
    if key.startswith("master_"):
        while f"master_{n}_{key[7:]}" in fields:
            n += 1
        return f"master_{n}_{key[7:]}"
    while f"{key}#{n}" in fields:
        n += 1
    return f"{key}#{n}"


def parse_kv(value: str) -> dict[str, str]:
    """Parse 'calls=21,usec=175,usec_per_call=8.33' into a dict."""
    result: dict[str, str] = {}
    for part in value.split(","):
        key, sep, val = part.partition("=")
        if sep:
            result[key] = val
    return result


def to_float(value: str) -> float | None:
    """A numeric INFO value; None for text (including '1.5%', 'abc' or 'nan').

    Whole numbers come back as int, which renders without a detour through float.
    """
    if value.isdecimal() and value.isascii():
        return int(value)
    if value in _NOT_NUMBERS:
        return None
    try:
        number = float(value)
    except ValueError:
        if len(value) <= 64:  # short text only: a hostile server's long lines cost no memory
            _NOT_NUMBERS.remember(value, True, len(value))
        return None
    return number if math.isfinite(number) else None


# Text values (versions, modes, names) come back every scrape, and a failed
# float() costs an exception: remember which values are not numbers.
_NOT_NUMBERS: TextCache[str, bool] = TextCache(10_000, 2 << 20)


def parse_config_get(replies: list[object]) -> dict[str, str]:
    """Merge the flat [name, value, ...] replies of several CONFIG GET calls."""
    result: dict[str, str] = {}
    for reply in replies:
        if isinstance(reply, list):
            for i in range(0, len(reply) - 1, 2):
                result[as_text(reply[i])] = as_text(reply[i + 1])
    return result


def parse_slowlog_entry(reply: object) -> SlowlogEntry | None:
    """The id and duration of the newest entry of `SLOWLOG GET 1`, if any."""
    if not isinstance(reply, list) or not reply or not isinstance(reply[0], list):
        return None
    entry = reply[0]
    if len(entry) < 3 or not isinstance(entry[0], int) or not isinstance(entry[2], int):
        return None
    return SlowlogEntry(float(entry[0]), entry[2] / 1e6)


def parse_latency_latest(reply: object) -> list[LatencySpike]:
    """Each event's latest spike from LATENCY LATEST."""
    events: list[LatencySpike] = []
    if not isinstance(reply, list):
        return events
    for entry in reply:
        if isinstance(entry, list) and len(entry) >= 3:
            name, when, latest_ms = entry[0], entry[1], entry[2]
            if isinstance(when, int) and isinstance(latest_ms, int):
                events.append(LatencySpike(as_text(name), float(when), latest_ms / 1000.0))
    return events


def as_text(value: object) -> str:
    """A reply element as text: bytes decoded as UTF-8 (bad bytes replaced), others by str()."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
