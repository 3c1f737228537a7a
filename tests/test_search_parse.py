"""FT.INFO replies of RediSearch 1.2 and 2.x parsed into redis_search_index_* values."""

from __future__ import annotations

import math

import pytest
from cachescope.exposition.families import MetricSet, render
from cachescope.redis import search
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.unit

# Debian's RediSearch 1.2, as hiredis hands it over (FT.INFO of an index with one document).
REDISEARCH_1_2 = [
    *(b"index_name", b"idx", b"index_options", []),
    *(b"fields", [[b"title", b"type", b"TEXT", b"WEIGHT", b"1"]]),
    *(b"num_docs", b"1", b"max_doc_id", b"1", b"num_terms", b"2", b"num_records", b"2"),
    *(b"inverted_sz_mb", b"1.1444091796875e-05", b"offset_vectors_sz_mb", b"1.9073486328125e-06"),
    *(b"doc_table_size_mb", b"8.0108642578125e-05", b"sortable_values_size_mb", b"0"),
    *(b"key_table_size_mb", b"3.528594970703125e-05", b"records_per_doc_avg", b"2"),
    *(b"bytes_per_record_avg", b"6", b"offsets_per_term_avg", b"1"),
    *(b"offset_bits_per_record_avg", b"8"),
    *(b"gc_stats", [b"current_hz", b"10", b"bytes_collected", b"0"]),
    *(b"cursor_stats", [b"global_idle", 0, b"global_total", 0]),
]
# RediSearch 2.x (2.8 adds the overheads and total_index_memory_sz_mb), written from the
# documented FT.INFO field list: integers as integers, sizes and ratios as strings,
# nested arrays for the definition, attributes, gc and cursor stats and index errors.
REDISEARCH_2 = [
    *(b"index_name", b"orders", b"index_options", []),
    *(
        b"index_definition",
        [b"key_type", b"HASH", b"prefixes", [b"order:"], b"default_score", b"1"],
    ),
    *(b"attributes", [[b"identifier", b"price", b"attribute", b"price", b"type", b"NUMERIC"]]),
    *(b"num_docs", 1200, b"max_doc_id", 1250, b"num_terms", 340, b"num_records", 5000),
    *(b"inverted_sz_mb", b"0.5", b"vector_index_sz_mb", b"0", b"total_inverted_index_blocks", 42),
    *(b"offset_vectors_sz_mb", b"0.25", b"doc_table_size_mb", b"0.125"),
    *(b"sortable_values_size_mb", b"0", b"key_table_size_mb", b"0.0625"),
    *(b"tag_overhead_sz_mb", b"0.001", b"text_overhead_sz_mb", b"0.002"),
    *(b"total_index_memory_sz_mb", b"1.5", b"geoshapes_sz_mb", b"0"),
    *(b"records_per_doc_avg", b"4.1666", b"bytes_per_record_avg", b"9.5"),
    *(b"offsets_per_term_avg", b"-nan", b"offset_bits_per_record_avg", b"-nan"),
    *(b"hash_indexing_failures", 7, b"total_indexing_time", b"12.5"),
    *(b"indexing", 1, b"percent_indexed", b"0.75", b"number_of_uses", 31, b"cleaning", 0),
    *(b"gc_stats", [b"bytes_collected", 0, b"total_ms_run", 0]),
    *(b"cursor_stats", [b"global_idle", 0, b"global_total", 0, b"index_capacity", 128]),
    *(b"dialect_stats", [b"dialect_1", 1, b"dialect_2", 0]),
    *(b"Index Errors", [b"indexing failures", 7, b"last indexing error", b"Invalid numeric value"]),
]


def values(reply: object) -> dict[str, float]:
    return {f.metric: v for f, v in search.index_values(search.parse_ft_info(reply))}


def test_redisearch_1_2_sizes_become_bytes_and_absent_fields_stay_absent() -> None:
    got = values(REDISEARCH_1_2)
    assert got["num_docs"] == 1 and got["num_terms"] == 2
    assert got["inverted_size_bytes"] == 12.0  # 1.1444e-05 MiB
    assert got["doc_table_size_bytes"] == 84.0
    # 1.2 has no percent_indexed: exporting 0 would fire "indexing stuck below 100%".
    assert "percent_indexed" not in got and "hash_indexing_failures" not in got


def test_redisearch_2_fields_numbers_and_nan_averages() -> None:
    got = values(REDISEARCH_2)
    assert got["hash_indexing_failures"] == 7
    assert got["percent_indexed"] == 0.75 and got["indexing"] == 1
    assert got["number_of_uses_total"] == 31
    assert got["total_index_memory_size_bytes"] == 1.5 * 1048576
    assert got["tag_overhead_size_bytes"] == 0.001 * 1048576
    assert got["total_inverted_index_blocks"] == 42
    assert "avg_per_term_offsets" not in got  # '-nan' of the server: no sample
    assert len(got) == len(search.FIELDS) - 2  # both averages were -nan


def test_families_keep_redis_exporter_names_types_and_label() -> None:
    metrics = MetricSet((("instance", "a:6379"),))
    search.add_index(metrics, "asked", search.parse_ft_info(REDISEARCH_2))
    families = {f.name: f for f in text_string_to_metric_families(render(metrics))}
    assert families["redis_search_index_number_of_uses"].type == "counter"
    assert families["redis_search_index_percent_indexed"].type == "gauge"
    sample = families["redis_search_index_num_docs"].samples[0]
    assert sample.labels == {"instance": "a:6379", "index_name": "orders"}


@pytest.mark.parametrize(
    "error",
    ["Unknown Index name", "Unknown index name", "idx: no such index"],
)
def test_missing_index_wordings_of_each_version(error: str) -> None:
    assert search.is_missing_index(error)


def test_a_missing_index_is_not_asked_again_until_the_retry() -> None:
    indexes = search.SearchIndexes("t", ("idx", "gone"))
    assert indexes.commands({}, 0.0) == [("FT.INFO", "idx"), ("FT.INFO", "gone")]
    indexes.failed("gone", "Unknown Index name", 0.0)
    assert indexes.commands({}, 1.0) == [("FT.INFO", "idx")]
    later = search.MISSING_RETRY_SECONDS
    assert indexes.commands({}, later) == [("FT.INFO", "idx"), ("FT.INFO", "gone")]
    assert indexes.commands({"FT.INFO": "ERR unknown command"}, later) == []


def test_patterns_read_ft_list_and_stop_at_the_cap() -> None:
    indexes = search.SearchIndexes("t", ("fixed", "shop_.*"))
    assert indexes.commands({}, 0.0) == [("FT._LIST",), ("FT.INFO", "fixed")]
    listed = [b"shop_%d" % i for i in range(60)] + [b"other"]
    extra = indexes.followup({("FT._LIST",): listed}, [("FT.INFO", "fixed")], 0.0)
    assert len(extra) == search.MAX_INDEXES - 1  # "fixed" takes one of the 50
    assert ("FT.INFO", "other") not in extra
    assert indexes.over_cap == 61 - search.MAX_INDEXES
    # Next scrape: one round trip, the matches of the last FT._LIST asked right away.
    assert len(indexes.commands({}, 1.0)) == 1 + search.MAX_INDEXES
    # A server without FT._LIST (RediSearch 1.2): names only.
    assert indexes.commands({"FT._LIST": "ERR unknown"}, 1.0)[0] == ("FT.INFO", "fixed")


def test_pattern_is_told_from_a_name() -> None:
    assert not search.is_pattern("orders-v2:idx_1")
    assert search.is_pattern("orders.*") and search.is_pattern("a|b")


_scalar = st.one_of(st.binary(max_size=12), st.integers(), st.floats(allow_nan=True))
_value = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=4), max_leaves=10)


@given(st.lists(st.one_of(st.sampled_from([f.key.encode() for f in search.FIELDS]), _value)))
def test_any_reply_parses_to_finite_numbers_without_raising(reply: list[object]) -> None:
    for _, value in search.index_values(search.parse_ft_info(reply)):
        assert math.isfinite(value)
