"""Search index alerts in `analyze`: per-index figures and findings from the
`redis_search_index_*` families (redis_exporter's names), and the scenario of a document
that fails to index, on Debian's RediSearch 1.2 where the module refuses it at FT.ADD.

The families are built here as the exporter's collector writes them (a MetricSet), so the
figures and findings are checked against canned series of RediSearch 2.x too (its
`hash_indexing_failures`, `percent_indexed` and `indexing`, which 1.2 lacks).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import redis
from cachescope.analyze.figures import Figures, redis_figures
from cachescope.analyze.findings import evaluate
from cachescope.analyze.output import metrics, report, table
from cachescope.analyze.sampling import Reading, Samples
from cachescope.analyze.search import PREFIX, search_indexes
from cachescope.exposition.families import MetricSet
from cachescope.rules import thresholds
from servers import ROOT, RedisServer

DEFAULTS = thresholds.load()
SCHEMA = json.loads((ROOT / "docs/analyze-report.schema.json").read_text())
REDISEARCH = Path("/usr/lib/redis/modules/redisearch.so")
MIB = 1024 * 1024
HEALTHY = {
    "num_docs": 1000,
    "num_records": 5000,
    "num_terms": 800,
    "percent_indexed": 1,
    "indexing": 0,
    "hash_indexing_failures": 0,
    "inverted_size_bytes": 2 * MIB,
    "doc_table_size_bytes": MIB,
    "key_table_size_bytes": MIB,
}


def reading(maxmemory: float, indexes: dict[str, dict[str, float]]) -> Reading:
    """One scrape of a Redis with these indexes, as the exporter's collectors write it."""
    metrics_ = MetricSet((("instance", "cache-a"),))
    metrics_.add("redis_memory_max_bytes", "gauge", "maxmemory", maxmemory)
    metrics_.add("redis_memory_used_bytes", "gauge", "used", maxmemory / 2)
    for name, fields in indexes.items():
        for field, value in fields.items():
            metrics_.add(PREFIX + field, "gauge", field, value, (("index_name", name),))
    return Reading(metrics_)


def samples(first: dict[str, dict[str, float]], second: dict[str, dict[str, float]]) -> Samples:
    return Samples(reading(100 * MIB, first), reading(100 * MIB, second), 10.0, 0.01)


def findings_of(pair: Samples) -> dict[str, str]:
    """{alert: issue} of the search alerts' findings on the second sample."""
    found = evaluate(redis_figures(pair, now=0.0), DEFAULTS)
    return {f.alert: f.issue for f in found if f.alert.startswith("RedisSearch")}


def test_healthy_indexes_give_figures_and_no_finding() -> None:
    pair = samples({"products": HEALTHY}, {"products": HEALTHY, "users": HEALTHY})
    (products, users) = search_indexes(pair)
    assert (products.name, products.docs, products.records, products.terms) == (
        "products",
        1000,
        5000,
        800,
    )
    assert products.memory_bytes == 4 * MIB and products.inverted_bytes == 2 * MIB
    assert products.failures == (0, 0) and users.failures == (0, 0)
    assert findings_of(pair) == {}


def test_failures_that_grew_during_the_sample_are_a_finding_naming_the_index() -> None:
    failing = {**HEALTHY, "hash_indexing_failures": 7}
    pair = samples({"products": {**HEALTHY, "hash_indexing_failures": 4}}, {"products": failing})
    issue = findings_of(pair)["RedisSearchIndexingFailures"]
    assert issue.startswith("3 documents failed to index") and "products" in issue


def test_failures_only_from_before_the_sample_are_reported_one_priority_lower() -> None:
    old = {"products": {**HEALTHY, "hash_indexing_failures": 4}}
    found = [
        f
        for f in evaluate(redis_figures(samples(old, old), now=0.0), DEFAULTS)
        if f.alert == "RedisSearchIndexingFailures"
    ]
    assert [(f.priority, "none during the sample" in f.issue) for f in found] == [("low", True)]


def test_an_index_created_between_the_samples_counts_all_its_failures() -> None:
    pair = samples({}, {"products": {**HEALTHY, "hash_indexing_failures": 2}})
    assert search_indexes(pair)[0].failures == (2, 2)
    assert "2 documents failed" in findings_of(pair)["RedisSearchIndexingFailures"]


def test_a_stopped_scan_below_100_percent_is_stuck_and_says_it_stopped() -> None:
    stuck = {**HEALTHY, "percent_indexed": 0.42, "indexing": 0}
    issue = findings_of(samples({"products": stuck}, {"products": stuck}))
    assert issue["RedisSearchIndexingStuck"] == (
        "search index only partly indexed: products 42.0% (not indexing: the scan stopped)"
    )
    scanning = {**HEALTHY, "percent_indexed": 0.42, "indexing": 1}
    issue = findings_of(samples({"products": scanning}, {"products": scanning}))
    assert "(still indexing)" in issue["RedisSearchIndexingStuck"]


def test_index_memory_over_half_of_maxmemory_adds_every_index_and_part() -> None:
    # 30 + 21 MiB of 100 MiB: over the 50% threshold only when both indexes count
    big = {"inverted_size_bytes": 20 * MIB, "offset_vectors_size_bytes": 10 * MIB}
    other = {"num_docs": 5, "doc_table_size_bytes": 21 * MIB}
    found = findings_of(samples({}, {"products": big, "users": other}))
    assert found["RedisSearchIndexMemoryHigh"].startswith("search indexes use 51MB, 51.0%")
    small = {"num_docs": 5, "doc_table_size_bytes": 19 * MIB}
    assert findings_of(samples({}, {"products": big, "users": small})) == {}


def test_redisearch_1_figures_leave_what_the_module_lacks_as_none() -> None:
    old_module = {"num_docs": 1, "num_records": 1, "num_terms": 1, "inverted_size_bytes": 6}
    (index,) = search_indexes(samples({"idx": old_module}, {"idx": old_module}))
    assert (index.percent_indexed, index.indexing, index.failures) == (None, None, None)
    assert findings_of(samples({"idx": old_module}, {"idx": old_module})) == {}


def test_report_lists_every_index_and_matches_the_schema() -> None:
    failing = {**HEALTHY, "hash_indexing_failures": 3}
    figures = redis_figures(samples({"products": HEALTHY}, {"products": failing}), now=0.0)
    data = report("redis://127.0.0.1:6379", evaluate(figures, DEFAULTS), figures)
    jsonschema.validate(data, SCHEMA)
    (index,) = data["metrics"]["searchIndexes"]
    assert index["name"] == "products" and index["docs"] == 1000
    assert (index["indexingFailures"], index["indexingFailuresDuringSample"]) == (3, 3)
    assert (index["memory"], index["percentIndexed"]) == ("4MB", 100.0)
    assert "search index  products: 1000 docs, 100% indexed, 3 failures, 4MB" in table(
        [data], colour=False
    )
    assert any(r["category"] == "search" for r in data["recommendations"])


def test_a_memcached_report_has_no_search_indexes() -> None:
    assert metrics(Figures("memcached"))["searchIndexes"] is None


@pytest.mark.live
def test_redisearch_1_refuses_a_wrong_typed_field_at_add_time() -> None:
    """The scenario on the module here: the bad document never reaches the index.

    RediSearch 2.x would take the hash and count it in hash_indexing_failures (the alert's
    promtool cases and the canned series above); 1.2 answers the writer with an error, and
    FT.INFO has no failure counter to export.
    """
    assert REDISEARCH.is_file(), "apt-get install redis-redisearch (scripts/test.sh does)"
    server = RedisServer("--loadmodule", str(REDISEARCH))
    try:
        client = server.client()
        client.execute_command(
            "FT.CREATE", "products", "SCHEMA", "title", "TEXT", "price", "NUMERIC"
        )
        client.execute_command("FT.ADD", "products", "p1", 1.0, "FIELDS", "title", "a", "price", 3)
        with pytest.raises(redis.ResponseError, match="numeric"):
            client.execute_command(
                "FT.ADD", "products", "p2", 1.0, "FIELDS", "title", "b", "price", "cheap"
            )
        raw = client.execute_command("FT.INFO", "products")
        info = dict(zip(raw[::2], raw[1::2], strict=True))
        assert int(info[b"num_docs"]) == 1
        assert b"hash_indexing_failures" not in info and b"percent_indexed" not in info
    finally:
        server.stop()
