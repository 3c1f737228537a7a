"""Pure parsers for Redis replies: bytes or lists in, plain data out, no I/O."""

from __future__ import annotations


def parse_info(raw: bytes) -> dict[str, str]:
    """Parse an INFO reply into {field: value}. Section headers are dropped.

    Every field name in INFO is unique across sections (the repeated ones carry
    an index, like `slave0` or `db3`), except `module`, which we collect as
    `module`, `module#1`, ...
    """
    fields: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        if not line or line[0] == "#":
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if key in fields:
            key = f"{key}#{sum(1 for k in fields if k.startswith(key))}"
        fields[key] = value
    return fields


def parse_kv(value: str) -> dict[str, str]:
    """Parse 'calls=21,usec=175,usec_per_call=8.33' into a dict."""
    result: dict[str, str] = {}
    for part in value.split(","):
        key, sep, val = part.partition("=")
        if sep:
            result[key] = val
    return result


def to_float(value: str) -> float | None:
    """A numeric INFO value as float; None for text (including '1.5%' or 'abc')."""
    try:
        return float(value)
    except ValueError:
        return None


def parse_config_get(replies: list[object]) -> dict[str, str]:
    """Merge the flat [name, value, ...] replies of several CONFIG GET calls."""
    result: dict[str, str] = {}
    for reply in replies:
        if isinstance(reply, list):
            for i in range(0, len(reply) - 1, 2):
                result[_text(reply[i])] = _text(reply[i + 1])
    return result


def parse_slowlog_entry(reply: object) -> tuple[float, float] | None:
    """(id, duration in seconds) of the newest entry of `SLOWLOG GET 1`, if any."""
    if not isinstance(reply, list) or not reply or not isinstance(reply[0], list):
        return None
    entry = reply[0]
    if len(entry) < 3 or not isinstance(entry[0], int) or not isinstance(entry[2], int):
        return None
    return float(entry[0]), entry[2] / 1e6


def parse_latency_latest(reply: object) -> list[tuple[str, float, float]]:
    """[(event, unix time of the latest spike, its duration in seconds)] from LATENCY LATEST."""
    events: list[tuple[str, float, float]] = []
    if not isinstance(reply, list):
        return events
    for entry in reply:
        if isinstance(entry, list) and len(entry) >= 3:
            name, when, latest_ms = entry[0], entry[1], entry[2]
            if isinstance(when, int) and isinstance(latest_ms, int):
                events.append((_text(name), float(when), latest_ms / 1000.0))
    return events


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
