"""Memcached instance: hit ratio, evictions, memory, items, connections, slabs."""

from __future__ import annotations

from typing import Any

from cachescope.dashboards import grafana
from cachescope.dashboards.bounds import Bound
from cachescope.dashboards.common import (
    RATE,
    UP_MAPPINGS,
    instance_variable,
    job_variable,
    series,
    single,
)

UID = "cachescope-memcached"
I = "{{instance}}"  # noqa: E741 (a legend, read as "instance")
CMD = "memcached_commands_total{SEL"


def overview(t: dict[str, Any]) -> list[grafana.Panel]:
    """Up, version, and the three ratios the alerts watch."""
    version = single(t, "Version", "memcached_version{SEL}", "From `stats`.", legend="{{version}}")
    version["options"]["textMode"] = "name"
    return [
        single(
            t,
            "Up",
            "memcached_up{SEL}",
            "1 if cachescope's last scrape worked.",
            runbooks=["MemcachedDown"],
            mappings=UP_MAPPINGS,
        ),
        version,
        single(t, "Uptime", "memcached_uptime_seconds{SEL}", "Since the last restart.", "s"),
        single(
            t,
            "Get hit ratio (5m)",
            "instance:memcached_hit_ratio:ratio_rate5m{SEL}",
            "get hits / gets over 5 minutes.",
            "percentunit",
            [Bound("MemcachedHitRatioLow")],
        ),
        single(
            t,
            "Memory / limit",
            "instance:memcached_memory_utilization:ratio{SEL}",
            "bytes / limit_maxbytes. Full is the normal state of an LRU cache.",
            "percentunit",
            [],
            ["MemcachedItemsEvictedEarly"],
        ),
        single(
            t,
            "Connections / max",
            "memcached_current_connections{SEL} / (memcached_max_connections{SEL} > 0)",
            "curr_connections / maxconns.",
            "percentunit",
            [Bound("MemcachedConnectionsNearLimit")],
        ),
    ]


def traffic(t: dict[str, Any]) -> list[grafana.Panel]:
    """Is the cache useful, and what does it drop."""
    by_command = (
        f'sum by (instance, command) (rate({CMD}, status="hit"}}[{RATE}]))\n'
        f'/ (sum by (instance, command) (rate({CMD}, status=~"hit|miss"}}[{RATE}])) > 0)'
    )
    return [
        series(
            t,
            "Get hit ratio",
            [("instance:memcached_hit_ratio:ratio_rate5m{SEL}", I)],
            "Gets served from cache over 5 minutes.",
            "percentunit",
            [Bound("MemcachedHitRatioLow")],
        ),
        series(
            t,
            "Hit ratio by command",
            [(by_command, f"{I} {{{{command}}}}")],
            "Hits / (hits + misses) for get, touch, delete, incr, decr, cas ...",
            "percentunit",
        ),
        series(
            t,
            "Commands/s",
            [
                (
                    f"sum by (instance, command, status) (rate({CMD}}}[{RATE}]))",
                    f"{I} {{{{command}}}} {{{{status}}}}",
                ),
            ],
            "By command and outcome.",
            "ops",
        ),
        series(
            t,
            "Evictions and reclaims/s",
            [
                (f"rate(memcached_items_evicted_total{{SEL}}[{RATE}])", f"{I} evicted"),
                (
                    f"rate(memcached_items_evicted_unfetched_total{{SEL}}[{RATE}])",
                    f"{I} evicted, never read",
                ),
                (f"rate(memcached_items_reclaimed_total{{SEL}}[{RATE}])", f"{I} reclaimed"),
                (
                    f"rate(memcached_items_expired_unfetched_total{{SEL}}[{RATE}])",
                    f"{I} expired, never read",
                ),
            ],
            "Evicted: live items dropped for room. Reclaimed: expired memory reused.",
            "short",
            runbooks=["MemcachedEvictionsHigh"],
        ),
    ]


def capacity(t: dict[str, Any]) -> list[grafana.Panel]:
    """Memory, items and connections against their limits."""
    return [
        series(
            t,
            "Memory vs limit",
            [
                ("memcached_current_bytes{SEL}", f"{I} stored"),
                ("memcached_limit_bytes{SEL}", f"{I} limit"),
            ],
            "Item bytes stored, and -m.",
            "bytes",
        ),
        series(
            t,
            "Last access of evicted items",
            [
                (
                    "memcached_slab_items_evicted_time_seconds{SEL}\n"
                    "and on (job, instance, slab)"
                    " rate(memcached_slab_items_evicted_total{SEL}[$__rate_interval]) > 0",
                    "{{instance}} slab {{slab}}",
                )
            ],
            "Seconds between an evicted item's last access and its eviction, per slab class"
            " that evicts. Full is the normal state of an LRU cache; items evicted this soon"
            " after use mean the working set does not fit.",
            "s",
            [Bound("MemcachedItemsEvictedEarly")],
            ["MemcachedEvictionsHigh"],
        ),
        series(
            t,
            "Items",
            [
                ("memcached_current_items{SEL}", f"{I} stored"),
                (f"rate(memcached_items_total{{SEL}}[{RATE}])", f"{I} stored/s"),
            ],
            "Items held, and the rate of new ones.",
            "short",
        ),
        series(
            t,
            "Connections / max",
            [
                ("memcached_current_connections{SEL} / (memcached_max_connections{SEL} > 0)", I),
            ],
            "At 100% the listener is disabled (or clients rejected).",
            "percentunit",
            [Bound("MemcachedConnectionsNearLimit")],
        ),
        series(
            t,
            "Connections",
            [
                ("memcached_current_connections{SEL}", f"{I} open"),
                ("memcached_max_connections{SEL}", f"{I} max"),
                (f"rate(memcached_connections_total{{SEL}}[{RATE}])", f"{I} new/s"),
            ],
            "Open connections, the limit, and churn.",
            "short",
        ),
        series(
            t,
            "Listener disabled and rejected/s",
            [
                (
                    f"rate(memcached_connections_listener_disabled_total{{SEL}}[{RATE}])",
                    f"{I} listener disabled",
                ),
                (f"rate(memcached_connections_rejected_total{{SEL}}[{RATE}])", f"{I} rejected"),
                ("1 - memcached_accepting_connections{SEL}", f"{I} not accepting"),
            ],
            "Any of these means clients waited or were refused at the connection limit.",
            "short",
            runbooks=["MemcachedListenerDisabled", "MemcachedConnectionsRejected"],
        ),
    ]


def slabs(t: dict[str, Any]) -> list[grafana.Panel]:
    """Per slab class: where the memory sits and which classes starve."""
    slab = f"{I} slab {{{{slab}}}}"
    return [
        series(
            t,
            "Memory per slab class",
            [
                ("memcached_slab_current_pages{SEL} * 1048576", slab),
            ],
            "Pages (1 MiB each by default) assigned to each class.",
            "bytes",
        ),
        series(
            t,
            "Chunks used per slab class",
            [
                (
                    "memcached_slab_chunks_used{SEL} / (memcached_slab_current_chunks{SEL} > 0)",
                    slab,
                ),
            ],
            "Share of the class's chunks holding items.",
            "percentunit",
        ),
        series(
            t,
            "Evictions and out-of-memory per slab class/s",
            [
                (f"rate(memcached_slab_items_evicted_total{{SEL}}[{RATE}])", f"{slab} evicted"),
                (
                    f"rate(memcached_slab_items_outofmemory_total{{SEL}}[{RATE}])",
                    f"{slab} outofmemory",
                ),
            ],
            "outofmemory: the class could not store an item at all (slab calcification).",
            "short",
            runbooks=["MemcachedSlabOutOfMemory"],
        ),
    ]


def build(thresholds: dict[str, Any]) -> dict[str, Any]:
    """The Memcached instance dashboard."""
    t = thresholds
    panels = [
        grafana.row("Overview"), *overview(t),
        grafana.row("Hits, misses and evictions"), *traffic(t),
        grafana.row("Memory, items and connections"), *capacity(t),
        grafana.row("Slab classes"), *slabs(t),
    ]  # fmt: skip
    return grafana.dashboard(
        UID,
        "Memcached instance",
        "One Memcached server: is it up, useful, full, out of connections; which slab classes"
        " evict.",
        [job_variable("memcached_up"), instance_variable("memcached_up")],
        panels,
    )
