"""Caches keyed by server text stay within their entries and bytes, and still cache."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

from cachescope.redis import parse
from cachescope.textcache import ENTRY_OVERHEAD, TextCache
from hypothesis import given, settings
from hypothesis import strategies as st


def test_cache_evicts_at_its_byte_bound_before_its_entry_bound() -> None:
    cache: TextCache[str, str] = TextCache(max_entries=1000, max_bytes=64 * 1024)
    for n in range(10_000):
        key = f"field_{n}_" + "x" * 300
        assert cache.remember(key, key.upper(), 2 * len(key)) == key.upper()
        assert cache.used <= cache.max_bytes and len(cache) <= cache.max_entries
    assert cache.get(key) == key.upper()  # the last one is kept: it is still a cache
    assert len(cache) <= 64 * 1024 // (600 + ENTRY_OVERHEAD)  # the bytes bound it, not 1000


def test_a_full_cache_drops_its_older_half_not_everything() -> None:
    cache: TextCache[int, int] = TextCache(max_entries=10, max_bytes=1 << 20)
    for n in range(10):
        cache.remember(n, n, 1)
    cache.remember(10, 10, 1)
    assert sorted(cache) == [5, 6, 7, 8, 9, 10]  # the newer half survives the eviction
    for n in range(11, 95):
        cache.remember(n, n, 1)
    assert 5 <= len(cache) <= 10 and 94 in cache and 0 not in cache


def test_a_full_cache_by_bytes_frees_half_its_bytes() -> None:
    cache: TextCache[int, str] = TextCache(max_entries=1000, max_bytes=64 * 1024)
    for n in range(64 * 1024 // (800 + ENTRY_OVERHEAD)):
        cache.remember(n, "v", 800)
    held = len(cache)
    cache.remember(-1, "v", 800)  # one over the bound
    assert held // 2 - 1 <= len(cache) <= held // 2 + 2 and -1 in cache
    assert cache.used <= 32 * 1024


def test_an_entry_too_big_to_share_the_cache_is_not_kept() -> None:
    cache: TextCache[str, str] = TextCache(max_entries=10, max_bytes=64 * 1024)
    cache.remember("small", "s", 10)
    huge = "h" * 5000
    assert cache.remember(huge, huge, 10_000) is huge
    assert list(cache) == ["small"]


def test_a_hit_is_the_builtin_dict_get() -> None:
    """The hot path of every scrape: no Python-level method in the way."""
    assert TextCache.get is dict.get and TextCache.__getitem__ is dict.__getitem__


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 900)), max_size=300),
    st.integers(1, 20),
)
def test_the_byte_count_is_exact_and_both_bounds_hold(
    stores: list[tuple[int, int]], max_entries: int
) -> None:
    cache: TextCache[int, int] = TextCache(max_entries=max_entries, max_bytes=8 * 1024)
    sizes: dict[int, int] = {}
    for key, chars in stores:
        cache.remember(key, chars, chars)
        if key in cache and key not in sizes:
            sizes[key] = chars + ENTRY_OVERHEAD
        sizes = {k: v for k, v in sizes.items() if k in cache}
        assert len(cache) <= max_entries and cache.used <= cache.max_bytes
        assert cache.used == sum(sizes.values())
    cache.clear()
    assert cache.used == 0 and not cache


def test_threads_storing_at_once_keep_the_accounting() -> None:
    cache: TextCache[tuple[int, int], int] = TextCache(max_entries=100, max_bytes=1 << 20)

    def store(thread: int) -> None:
        for n in range(5000):
            cache.remember((thread, n % 300), n, 10)

    threads = [threading.Thread(target=store, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) <= 100 and cache.used == len(cache) * (10 + ENTRY_OVERHEAD)


def test_no_module_keeps_a_cache_of_its_own_that_it_empties_by_hand() -> None:
    """Every bounded cache is a TextCache: no `_CACHE.clear()` on a module-level name."""
    package = Path(__file__).parent.parent / "exporter" / "cachescope"
    emptied = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "clear"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id.lstrip("_").isupper()
            ):
                emptied.append(f"{path.relative_to(package)}:{node.lineno}")
    assert emptied == []


def test_text_that_is_not_a_number_stays_remembered_past_the_bound() -> None:
    for n in range(parse._NOT_NUMBERS.max_entries + 1):
        assert parse.to_float(f"v{n}.x") is None
    assert "v9999.x" in parse._NOT_NUMBERS and len(parse._NOT_NUMBERS) > 1000
