"""Caches keyed by server text stay within their entries and bytes, and still cache."""

from __future__ import annotations

from cachescope.textcache import ENTRY_OVERHEAD, TextCache


def test_cache_starts_over_at_its_byte_bound_before_its_entry_bound() -> None:
    cache: TextCache[str, str] = TextCache(max_entries=1000, max_bytes=64 * 1024)
    for n in range(10_000):
        key = f"field_{n}_" + "x" * 300
        assert cache.remember(key, key.upper(), 2 * len(key)) == key.upper()
        assert cache.used <= cache.max_bytes and len(cache) <= cache.max_entries
    assert cache.get(key) == key.upper()  # the last one is kept: it is still a cache
    assert len(cache) <= 64 * 1024 // (600 + ENTRY_OVERHEAD)  # the bytes bound it, not 1000


def test_cache_starts_over_at_its_entry_bound() -> None:
    cache: TextCache[int, int] = TextCache(max_entries=10, max_bytes=1 << 20)
    for n in range(95):
        cache.remember(n, n, 1)
    assert sorted(cache) == list(range(90, 95))


def test_an_entry_too_big_to_share_the_cache_is_not_kept() -> None:
    cache: TextCache[str, str] = TextCache(max_entries=10, max_bytes=64 * 1024)
    cache.remember("small", "s", 10)
    huge = "h" * 5000
    assert cache.remember(huge, huge, 10_000) is huge
    assert list(cache) == ["small"]
