"""Memcached's memory, slab and item size settings against what this instance holds.

Settings come from `stats settings`, the figures from `stats` and `stats slabs` /
`stats items` of the same read. Memcached does not report the host's memory, so `-m` is
judged against its stock default while the data fills it, not against the host.
"""

from __future__ import annotations

from cachescope.alerts.audits.model import AuditDef, AuditIssue, Settings, number
from cachescope.analyze.checks import human_bytes, pct
from cachescope.analyze.figures import Figures

MIB = 2**20
# memcached's stock `-m`: a server still at it was most likely never sized for its data.
STOCK_MAXBYTES = 64 * MIB
# Share of the limit the items fill from which the stock size is what bounds this cache.
NEAR_LIMIT = 0.8
# What to suggest instead of the stock 64 MB: four times it, the host's size unknown.
SUGGESTED_MB = 256
# Items in a slab class whose chunks are at least this share of item_size_max are close
# to the limit: values a little larger are refused ("object too large for cache").
ITEM_NEAR_MAX = 0.5


def _default_memory(s: Settings, f: Figures) -> AuditIssue | None:
    limit = int(number(s.config, "maxbytes"))
    used = number(s.info, "bytes")
    if limit != STOCK_MAXBYTES or used < NEAR_LIMIT * limit:
        return None
    evictions = int(number(s.info, "evictions"))
    return AuditIssue(
        issue=(
            f"memcached runs with the stock -m 64 and its items fill {pct(used / limit)} of "
            f"it ({human_bytes(used)}; {evictions} evictions since start): the cache is as "
            f"small as the default, not as the data or the host (the fix's {SUGGESTED_MB} MB, "
            "or what the host can spare)"
        ),
        evidence={
            "limit_maxbytes": limit,
            "bytes": int(used),
            "evictions": evictions,
            "note": "Memcached does not report the host's memory: compare -m with it by hand",
        },
        fix=f"memcached -m {SUGGESTED_MB}",
        priority="medium" if evictions else "low",
    )


def _slab_imbalance(s: Settings, f: Figures) -> AuditIssue | None:
    reassign = s.config.get("slab_reassign", "")
    automove = s.config.get("slab_automove", "")
    if reassign == "yes" and automove not in ("0", ""):
        return None
    evicting = [size for size, evicted, _ in s.slabs if evicted > 0]
    empty = [size for size, _, used in s.slabs if used == 0]
    if not evicting or not empty:
        return None
    # With slab_reassign on, automove can start at runtime (and belongs on the command
    # line too, said in the issue); without it only a restart with both options helps.
    runtime = reassign == "yes"
    fix = "slabs automove 1" if runtime else "memcached -o slab_reassign,slab_automove=1"
    keep = "; add -o slab_automove=1 to the command line to keep it" if runtime else ""
    return AuditIssue(
        issue=(
            f"{len(evicting)} slab class(es) evict while {len(empty)} hold pages with no "
            f"item, and pages never move between classes (slab_reassign {reassign}, "
            f"slab_automove {automove}): memory sits idle while items are dropped{keep}"
        ),
        evidence={
            "slab_reassign": reassign,
            "slab_automove": automove,
            "evicting_classes": len(evicting),
            "evicting_chunk_sizes": ", ".join(str(size) for size in evicting),
            "empty_classes": len(empty),
            "empty_chunk_sizes": ", ".join(str(size) for size in empty),
        },
        fix=fix,
        priority="medium",
    )


def _item_size(s: Settings, f: Figures) -> AuditIssue | None:
    limit = int(number(s.config, "item_size_max"))
    largest = max((size for size, _, used in s.slabs if used > 0), default=0)
    if not limit or largest < ITEM_NEAR_MAX * limit:
        return None
    return AuditIssue(
        issue=(
            f"items are stored in chunks of {human_bytes(largest)}, at least half the item "
            f"size limit of {human_bytes(limit)}: a value a little larger is refused with "
            "SERVER_ERROR object too large for cache, and the application sees a miss"
        ),
        evidence={"item_size_max": limit, "largest_chunk_size": largest},
        fix=f"memcached -I {max(2, 2 * limit // MIB)}m",
        priority="low",
    )


AUDITS = (
    AuditDef(
        name="memcached-default-memory",
        kind="memcached",
        category="memory",
        rationale=(
            "memcached starts with 64 MB unless told otherwise; a cache filled to that stock "
            "size evicts because nobody sized it, whatever the host could give."
        ),
        needs=("maxbytes",),
        check=_default_memory,
        action="start memcached with -m sized for the data and the host",
    ),
    AuditDef(
        name="memcached-slab-imbalance",
        kind="memcached",
        category="memory",
        rationale=(
            "Memory belongs to slab classes page by page; without slab_reassign and "
            "slab_automove a class that filled once keeps its pages while others evict."
        ),
        needs=("slab_reassign", "slab_automove"),
        check=_slab_imbalance,
        reads=("slabs",),
        action="let memcached move pages between slab classes (slab_reassign, slab_automove)",
    ),
    AuditDef(
        name="memcached-item-size",
        kind="memcached",
        category="memory",
        rationale=(
            "Values above item_size_max are refused outright; items already at half the "
            "limit leave little room before writes start failing as misses."
        ),
        needs=("item_size_max",),
        check=_item_size,
        reads=("slabs",),
        action="raise the item size limit (-I) above the biggest values, or split them",
    ),
)
