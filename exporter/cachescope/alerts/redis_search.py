"""Redis alerts on search indexes (RediSearch): indexing failures, stuck indexing, memory.

Documents failing to index, indexing stuck below 100%, indexes taking much of maxmemory.
They read the `redis_search_index_*` families (redis_exporter's names, label `index_name`),
which exist only for the indexes a target is told to check, so they are silent elsewhere.
"""

from __future__ import annotations

from cachescope.alerts.model import AlertDef
from cachescope.analyze.checks import Params, Past, human_bytes, pct
from cachescope.analyze.figures import Figures
from cachescope.analyze.search import MEMORY_PARTS, PREFIX

GROUP = "cachescope.redis.search"

_FAILURES = f"{PREFIX}hash_indexing_failures{{@{{selector}}}}"
_PARTS = "|".join(MEMORY_PARTS)
# The index memory of a target: aggregation drops __name__ and `without` keeps the target's
# own labels (cluster, instance_role), so the parts of every index add up per target, and
# the division matches maxmemory on all of them (no `on`, which would drop them).
_MEMORY = f'sum without (index_name) ({{__name__=~"{PREFIX}({_PARTS})_size_bytes", @{{selector}}}})'


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:3])
    return shown + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _failures(f: Figures, p: Params) -> str | None:
    new = [(i.name, i.failures[0]) for i in f.search_indexes if i.failures and i.failures[0] > 0]
    if new:
        count = sum(grown for _, grown in new)
        return (
            f"{count:g} documents failed to index during the {f.interval:.0f}s sample"
            f" (index {_names([name for name, _ in new])})"
        )
    old = [i.name for i in f.search_indexes if i.failures and i.failures[1] > 0]
    if old:
        return Past(
            f"index {_names(old)} has documents that failed to index (none during the sample)"
        )
    return None


# FT.INFO's `indexing` flag, where the module has it: a slow backfill or a stopped scan.
_STATE = {True: " (still indexing)", False: " (not indexing: the scan stopped)", None: ""}


def _stuck(f: Figures, p: Params) -> str | None:
    below = [
        i
        for i in f.search_indexes
        if i.percent_indexed is not None and i.percent_indexed < p["threshold"]
    ]
    if not below:
        return None
    parts = [f"{i.name} {pct(i.percent_indexed or 0.0)}{_STATE[i.indexing]}" for i in below]
    return "search index only partly indexed: " + ", ".join(parts)


def _memory_high(f: Figures, p: Params) -> str | None:
    if not f.search_indexes or not f.maxmemory:
        return None
    total = sum(index.memory_bytes for index in f.search_indexes)
    if total / f.maxmemory <= p["threshold"]:
        return None
    return (
        f"search indexes use {human_bytes(total)}, {pct(total / f.maxmemory)} of maxmemory"
        f" {human_bytes(f.maxmemory)} (threshold {pct(p['threshold'])})"
    )


ALERTS = (
    AlertDef(
        name="RedisSearchIndexingFailures",
        # A series born above 0 (an index created over keys that fail) has no step for
        # increase() to see: it counts while the series is younger than the window.
        expr=(
            f"increase({_FAILURES}[@{{window}}]) > 0\n"
            f"or ({_FAILURES} > 0\n"
            f"  unless on (job, instance, index_name) {_FAILURES} offset @{{window}})"
        ),
        summary="Documents fail to be indexed by a Redis search index.",
        description=(
            "Search index {{ $labels.index_name }} on Redis {{ $labels.instance }} failed to"
            " index {{ $value | humanize }} documents in the last @{window}; they are missing"
            " from its search results."
        ),
        category="search",
        action=(
            "find the failing keys (FT.INFO: Index Errors, last indexing error key) and fix the "
            "field the schema cannot parse, or change the schema (FT.ALTER, or recreate the index)"
        ),
        check=_failures,
    ),
    AlertDef(
        name="RedisSearchIndexingStuck",
        expr=f"{PREFIX}percent_indexed{{@{{selector}}}} < @{{threshold}}",
        summary="A Redis search index stays partly indexed.",
        description=(
            "Search index {{ $labels.index_name }} on Redis {{ $labels.instance }} has been"
            " {{ $value | humanizePercentage }} indexed for a long time; queries miss the"
            " documents not yet scanned."
        ),
        category="search",
        action=(
            "check FT.INFO's indexing flag: 1 is a slow backfill (wait, or index fewer keys "
            "with a tighter PREFIX/FILTER), 0 a stopped scan (free memory, then FT.DROPINDEX "
            "and FT.CREATE it again)"
        ),
        check=_stuck,
        fires_below=True,
    ),
    AlertDef(
        name="RedisSearchIndexMemoryHigh",
        expr=(f"{_MEMORY}\n/ (redis_memory_max_bytes{{@{{selector}}}} > 0)\n> @{{threshold}}"),
        summary="Redis search indexes take much of maxmemory.",
        description=(
            "The search indexes of Redis {{ $labels.instance }} use"
            " {{ $value | humanizePercentage }} of its maxmemory (threshold @{threshold|pct});"
            " eviction cannot free index memory, so less is left for the keys."
        ),
        category="search",
        action=(
            "index fewer fields (NOINDEX, no SORTABLE where unused, NOOFFSETS/NOFREQS for text), "
            "a tighter PREFIX/FILTER, or raise maxmemory"
        ),
        check=_memory_high,
    ),
)
