"""The search indexes row of the Redis instance dashboard: one line per index (RediSearch).

It draws the `redis_search_index_*` families (redis_exporter's names, label `index_name`),
which exist only for the indexes a target is told to check; elsewhere the row stays empty.
"""

from __future__ import annotations

from typing import Any

from cachescope.analyze.search import MEMORY_PARTS, PREFIX
from cachescope.dashboards import grafana
from cachescope.dashboards.bounds import Bound
from cachescope.dashboards.common import series

INDEX = "{{instance}} {{index_name}}"
# An index's memory as the alert adds it up: every part FT.INFO reports, RediSearch 1.2 to 2.x.
PARTS = f'{{__name__=~"{PREFIX}({"|".join(MEMORY_PARTS)})_size_bytes", SEL}}'


def indexes(t: dict[str, Any]) -> list[grafana.Panel]:
    """Documents, indexing progress and failures, and memory, per index."""
    window = t["alerts"]["RedisSearchIndexingFailures"]["window"]
    return [
        series(
            t,
            "Documents and records",
            [
                (f"{PREFIX}num_docs{{SEL}}", f"{INDEX} docs"),
                (f"{PREFIX}num_records{{SEL}}", f"{INDEX} records"),
            ],
            "Documents in each index and their records (one per term and document).",
            "short",
        ),
        series(
            t,
            "Percent indexed",
            [(f"{PREFIX}percent_indexed{{SEL}}", INDEX)],
            "Share of the keys the background scan has indexed (RediSearch 2.x); below 100%"
            " queries miss the rest.",
            "percentunit",
            [Bound("RedisSearchIndexingStuck")],
        ),
        series(
            t,
            f"Indexing failures in {window}",
            [(f"increase({PREFIX}hash_indexing_failures{{SEL}}[{window}])", INDEX)],
            "Documents the index could not parse (RediSearch 2.x); the window is the alert's.",
            "short",
            runbooks=["RedisSearchIndexingFailures"],
        ),
        series(
            t,
            "Index sizes",
            [
                (f"sum without (__name__) ({PARTS})", f"{INDEX} total"),
                (f"{PREFIX}inverted_size_bytes{{SEL}}", f"{INDEX} inverted index"),
                (f"{PREFIX}doc_table_size_bytes{{SEL}}", f"{INDEX} doc table"),
                (f"{PREFIX}key_table_size_bytes{{SEL}}", f"{INDEX} key table"),
                (f"{PREFIX}offset_vectors_size_bytes{{SEL}}", f"{INDEX} offset vectors"),
            ],
            "Memory of each index and its biggest parts; a steady climb with flat documents"
            " means garbage the index's GC has not collected.",
            "bytes",
            width=12,
        ),
        series(
            t,
            "Index memory / maxmemory",
            [
                (
                    f"sum without (index_name) ({PARTS})\n/ (redis_memory_max_bytes{{SEL}} > 0)",
                    "{{instance}}",
                )
            ],
            "All indexes of the instance against maxmemory: eviction cannot free index"
            " memory, so what they take is lost to the cached keys.",
            "percentunit",
            [Bound("RedisSearchIndexMemoryHigh")],
            width=12,
        ),
    ]
