"""Caches of what repeats scrape after scrape, keyed by text that servers send.

Rendering a label set or a HELP line once and looking it up afterwards halves
the cost of building a scrape, but the keys come from servers: one whose INFO
field names change on every scrape would fill a plain dict without end. Each
cache is bounded in entries and in bytes, and starts over when either is
reached: a hostile server costs its neighbours a slower scrape, not memory.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

# What an entry costs beyond the characters of its key and value: the dict slot,
# the key and value objects' headers, a tuple or two. An estimate, on the high side.
ENTRY_OVERHEAD = 200


class TextCache(dict[K, V]):
    """A dict whose `remember` keeps it within `max_entries` and about `max_bytes`.

    A dict, so that lookups on the hot path stay the builtin `get`.
    """

    __slots__ = ("max_entries", "max_bytes", "used")

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        super().__init__()
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.used = 0  # estimated bytes of the entries held

    def remember(self, key: K, value: V, chars: int) -> V:
        """Store and return `value`; `chars` counts the characters of key and value."""
        size = chars + ENTRY_OVERHEAD
        if size > self.max_bytes >> 6:  # one huge entry would crowd out the rest
            return value
        if len(self) >= self.max_entries or self.used + size > self.max_bytes:
            self.clear()
            self.used = 0
        self[key] = value
        self.used += size
        return value
