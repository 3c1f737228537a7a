"""Caches of what repeats scrape after scrape, keyed by text that servers send.

Rendering a label set or a HELP line once and looking it up afterwards halves
the cost of building a scrape, but the keys come from servers: one whose INFO
field names change on every scrape would fill a plain dict without end. Each
cache is bounded in entries and in bytes. When either bound is reached the
older half goes, in insertion order: what every scrape asks for stays (it was
stored early, or is stored again at once), and a hostile server costs its
neighbours a few misses, not memory and not a cold cache.
"""

from __future__ import annotations

import itertools
import threading
from array import array
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

# What an entry costs beyond the characters of its key and value: the dict slot,
# the key and value objects' headers, a tuple or two. An estimate, on the high side.
ENTRY_OVERHEAD = 200


class TextCache(dict[K, V]):
    """A dict whose `remember` keeps it within `max_entries` and about `max_bytes`.

    A dict, so that lookups on the hot path stay the builtin `get`. Only
    `remember` stores, so the sizes kept beside the dict follow its order.
    """

    __slots__ = ("max_entries", "max_bytes", "used", "_sizes", "_lock")

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        super().__init__()
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.used = 0  # estimated bytes of the entries held
        self._sizes = array("L")  # each entry's estimate, in the dict's order
        # Scrape threads share the caches: a miss takes the lock, a hit never does.
        self._lock = threading.Lock()

    def remember(self, key: K, value: V, chars: int) -> V:
        """Store and return `value`; `chars` counts the characters of key and value."""
        size = chars + ENTRY_OVERHEAD
        if size > self.max_bytes >> 6:  # one huge entry would crowd out the rest
            return value
        with self._lock:
            if key in self:  # another thread stored it first: same key, about the same size
                self[key] = value
                return value
            if len(self) >= self.max_entries or self.used + size > self.max_bytes:
                self._evict_older_half(size)
            self[key] = value
            self._sizes.append(size)
            self.used += size
        return value

    def clear(self) -> None:
        """Empty the cache, and its accounting."""
        with self._lock:
            super().clear()
            del self._sizes[:]
            self.used = 0

    def _evict_older_half(self, room: int) -> None:
        """Drop the older entries until half the entries and half the bytes are free."""
        sizes, keep_bytes = self._sizes, (self.max_bytes >> 1) - room
        count, freed, target = 0, 0, self.used - keep_bytes
        while count < len(sizes) and (count < (len(self) + 1) >> 1 or freed < target):
            freed += sizes[count]
            count += 1
        for key in list(itertools.islice(iter(self), count)):
            del self[key]
        del sizes[:count]
        self.used -= freed
