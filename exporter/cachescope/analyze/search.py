"""Per search index figures, read from the `redis_search_index_*` families of two samples.

The families follow redis_exporter's `--check-search-indexes` (one series per index, label
`index_name`, sizes in bytes). RediSearch 1.x gives neither `percent_indexed`, `indexing`
nor `hash_indexing_failures`: those figures stay None there.
"""

from __future__ import annotations

from dataclasses import dataclass

from cachescope.analyze.sampling import Reading, Samples

PREFIX = "redis_search_index_"
# The parts of an index's memory, in FT.INFO of RediSearch 1.2 to 2.x. Their sum, not
# `total_index_memory_size_bytes` (RediSearch 2.x only), is what the memory alert and the
# report add up, so that an older module is judged too; the total counts the same parts.
MEMORY_PARTS = (
    "inverted",
    "vector_index",
    "offset_vectors",
    "doc_table",
    "sortable_values",
    "key_table",
    "tag_overhead",
    "text_overhead",
    "geoshapes",
)


@dataclass(frozen=True, slots=True)
class SearchIndex:
    """One index at the second sample; failures as (during the interval, in total)."""

    name: str
    docs: float | None
    records: float | None
    terms: float | None
    percent_indexed: float | None  # 0-1
    indexing: bool | None
    failures: tuple[float, float] | None
    memory_bytes: float  # the sum of MEMORY_PARTS the module reports
    inverted_bytes: float | None


def search_indexes(samples: Samples) -> list[SearchIndex]:
    """Every index the second sample reports, by name."""
    last = samples.second
    # From every family, not one: a module may report some fields of an index only.
    names = {
        labels.get("index_name", "")
        for family in last.names()
        if family.startswith(PREFIX)
        for labels, _ in last.series(family)
    }
    return [_index(samples, name) for name in sorted(names)]


def _index(samples: Samples, name: str) -> SearchIndex:
    last = samples.second
    indexing = _value(last, "indexing", name)
    return SearchIndex(
        name=name,
        docs=_value(last, "num_docs", name),
        records=_value(last, "num_records", name),
        terms=_value(last, "num_terms", name),
        percent_indexed=_value(last, "percent_indexed", name),
        indexing=None if indexing is None else indexing == 1,
        failures=_failures(samples, name),
        memory_bytes=sum(_value(last, f"{part}_size_bytes", name) or 0.0 for part in MEMORY_PARTS),
        inverted_bytes=_value(last, "inverted_size_bytes", name),
    )


def _value(reading: Reading, family: str, name: str) -> float | None:
    return reading.value(PREFIX + family, index_name=name)


def _failures(samples: Samples, name: str) -> tuple[float, float] | None:
    after = _value(samples.second, "hash_indexing_failures", name)
    if after is None:
        return None
    before = _value(samples.first, "hash_indexing_failures", name)
    # A first sample without the index (created meanwhile) counts all its failures as new.
    grown = after if before is None or after < before else after - before
    return grown, after
