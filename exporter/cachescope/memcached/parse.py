"""Pure parsers for Memcached's text protocol `stats` replies: bytes in, plain data out.

A stats reply is `STAT <name> <value>\\r\\n` lines ended by `END\\r\\n`; a server
that does not know a stats subcommand answers one line instead: `ERROR`,
`CLIENT_ERROR <msg>` or `SERVER_ERROR <msg>`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

# A peer that streams lines without ever ending a reply must not eat our memory;
# `stats items` of a server with all 63 slab classes in use is about 120 KiB.
MAX_REPLY_BYTES = 4 << 20
_ERROR_PREFIXES = (b"ERROR", b"CLIENT_ERROR", b"SERVER_ERROR")

Stats = dict[str, str]


class ProtocolError(ValueError):
    """The peer sent something that is not a Memcached stats reply."""


class ReplyError(str):
    """An error line sent instead of a stats reply, e.g. 'ERROR' or 'CLIENT_ERROR ...'."""


class Status(str):
    """A one-line reply that is no error: `VERSION 1.6.18`, or `STORED` to a login."""


class ReplyReader:
    """Incremental reader: feed() bytes as they arrive, gets() complete replies."""

    def __init__(self) -> None:
        self._buffer = b""
        self._pos = 0
        self._current: Stats = {}
        self._size = 0

    def feed(self, data: bytes) -> None:
        self._buffer = self._buffer[self._pos :] + data
        self._pos = 0

    def gets(self) -> Stats | ReplyError | Status | None:
        """The next complete reply, or None until more bytes arrive."""
        buffer = self._buffer
        while True:
            end = buffer.find(b"\r\n", self._pos)
            if end < 0:
                if len(buffer) - self._pos + self._size > MAX_REPLY_BYTES:
                    raise ProtocolError(f"reply longer than {MAX_REPLY_BYTES} bytes")
                return None
            line = buffer[self._pos : end]
            self._pos = end + 2
            self._size += len(line) + 2
            reply = self._line(line)
            if reply is not None:
                self._current, self._size = {}, 0
                return reply

    def _line(self, line: bytes) -> Stats | ReplyError | Status | None:
        if line.startswith(b"STAT "):
            name, _, value = line[5:].decode("utf-8", "replace").partition(" ")
            self._current[name] = value
            return None
        if line == b"END":
            return self._current
        if line.startswith(_ERROR_PREFIXES) and not self._current:
            return ReplyError(line.decode("utf-8", "replace"))
        if (line == b"STORED" or line.startswith(b"VERSION ")) and not self._current:
            return Status(line.decode("utf-8", "replace"))
        raise ProtocolError(f"unexpected line in stats reply: {line[:60]!r}")


def parse_stats(raw: bytes) -> Stats:
    """Parse one complete stats reply (for tests and tools); raise on anything else."""
    reader = ReplyReader()
    reader.feed(raw)
    reply = reader.gets()
    if reply is None:
        raise ProtocolError("incomplete stats reply")
    if isinstance(reply, str):
        raise ProtocolError(f"one-line reply: {reply}")
    return reply


class Slabs(NamedTuple):
    """`stats slabs` split into its per-class and its global lines."""

    per_slab: dict[str, Stats]  # {slab id: {field: value}}
    totals: Stats  # {global field: value}


def split_slabs(stats: Stats) -> Slabs:
    """`stats slabs` -> per-class fields by slab id, and the global fields.

    Per-class lines are `<id>:<field>`; `active_slabs` and `total_malloced` are global.
    """
    per_slab: dict[str, Stats] = {}
    totals: Stats = {}
    for key, value in stats.items():
        slab, sep, field = key.partition(":")
        if sep and slab.isdecimal():
            per_slab.setdefault(slab, {})[field] = value
        elif not sep:
            totals[key] = value
    return Slabs(per_slab, totals)


def split_items(stats: Stats) -> dict[str, Stats]:
    """`stats items` lines `items:<id>:<field>` -> {slab id: {field: value}}."""
    per_slab: dict[str, Stats] = {}
    for key, value in stats.items():
        parts = key.split(":")
        if len(parts) == 3 and parts[0] == "items" and parts[1].isdecimal():
            per_slab.setdefault(parts[1], {})[parts[2]] = value
    return per_slab


def to_float(value: str | None) -> float | None:
    """A numeric stats value as float; None for text such as 'on', '(null)' or 'nan'."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def yes_no(value: str | None) -> float | None:
    """A 'yes'/'no' setting as 1/0; None for anything else."""
    return {"yes": 1.0, "no": 0.0}.get(value or "")
