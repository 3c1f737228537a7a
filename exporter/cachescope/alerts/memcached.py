"""Memcached alerts: availability, efficiency, memory and connections."""

from __future__ import annotations

from cachescope.alerts.model import AlertDef
from cachescope.analyze.checks import (
    Params,
    connections_near_limit,
    event,
    evictions_high,
    hit_ratio_low,
    seconds,
)
from cachescope.analyze.figures import Figures
from cachescope.rules.model import first_events

GROUP = "cachescope.memcached.alerts"
_UPTIME = "memcached_uptime_seconds{@{selector}}"
_SLAB_OOM = "memcached_slab_items_outofmemory_total{@{selector}}"


def _mc_hit_ratio(f: Figures, p: Params) -> str | None:
    return hit_ratio_low(f, p, "min_gets")


def _mc_evictions(f: Figures, p: Params) -> str | None:
    return evictions_high(f, p, "items")


def _mc_evicted_early(f: Figures, p: Params) -> str | None:
    shortest, limit = f.evicted_early, seconds(p, "threshold")
    if shortest is None or shortest >= limit:
        return None
    return (
        f"evicted items {shortest:.0f}s after their last access (threshold {limit:.0f}s): "
        "the cache is too small for its working set"
    )


def _mc_listener(f: Figures, p: Params) -> str | None:
    return event(f, "listener_disabled", "times the listener was disabled at the connection limit")


def _mc_rejected(f: Figures, p: Params) -> str | None:
    return event(f, "rejected", "connections rejected at the connection limit")


def _mc_slab_oom(f: Figures, p: Params) -> str | None:
    return event(f, "slab_outofmemory", "items a slab class could not store (outofmemory)")


ALERTS = (
    AlertDef(
        name="MemcachedDown",
        expr="memcached_up{@{selector}} == 0",
        summary="Memcached is down or cannot be scraped.",
        description=(
            "cachescope has not been able to read Memcached {{ $labels.instance }} for more"
            " than @{for}: the server is down, or unreachable from the exporter."
        ),
        category="availability",
        action="restart memcached and check why it stopped; expect a miss wave on the database",
        unjudged=(
            "analyze reports it when it cannot read the target at all (findings.unreachable), "
            "not from a sample"
        ),
    ),
    AlertDef(
        name="MemcachedHitRatioLow",
        fires_below=True,
        expr=(
            "instance:memcached_hit_ratio:ratio_rate5m{@{selector}} < @{threshold}\n"
            "and on (job, instance)\n"
            "  instance:memcached_get_hits:rate5m{@{selector}}"
            " + instance:memcached_get_misses:rate5m{@{selector}} > @{min_gets}\n"
            "unless on (job, instance) memcached_uptime_seconds{@{selector}}"
            " < @{warmup|seconds}"
        ),
        summary="Memcached hit ratio is low.",
        description=(
            "Memcached {{ $labels.instance }} answers {{ $value | humanizePercentage }} of"
            " gets from cache (threshold @{threshold|pct})."
        ),
        category="efficiency",
        action=(
            "with evictions give it more memory (-m) or servers; with get_expired lengthen TTLs; "
            "get_flushed means someone runs flush_all"
        ),
        check=_mc_hit_ratio,
    ),
    AlertDef(
        name="MemcachedEvictionsHigh",
        expr=(
            "instance:memcached_evicted_items:rate5m{@{selector}} > @{threshold}\n"
            "and on (job, instance)"
            " instance:memcached_hit_ratio:ratio_rate5m{@{selector}} < @{max_hit_ratio}"
        ),
        summary="Memcached evicts items while its hit ratio is low.",
        description=(
            "Memcached {{ $labels.instance }} evicts {{ $value | humanize }} items/s and its"
            " hit ratio is below @{max_hit_ratio|pct}: it is too small for its working set."
        ),
        category="efficiency",
        action=(
            "raise -m or add servers; enable slab rebalancing (-o slab_reassign,slab_automove=1)"
        ),
        check=_mc_evictions,
    ),
    AlertDef(
        # A full Memcached is an LRU cache at work; items that had been read, pushed out soon
        # after their last use, mean the working set does not fit. Items set and never read
        # (a long tail, counted by evicted_unfetched) leaving early is no harm.
        name="MemcachedItemsEvictedEarly",
        fires_below=True,
        expr=(
            "memcached_slab_items_evicted_time_seconds{@{selector}} < @{threshold|seconds}\n"
            "and on (job, instance, slab)\n"
            "(\n"
            "  rate(memcached_slab_items_evicted_total{@{selector}}[5m])\n"
            "  - rate(memcached_slab_items_evicted_unfetched_total{@{selector}}[5m])\n"
            ") > 0"
        ),
        summary="Memcached evicts items soon after their last use.",
        description=(
            "Slab class {{ $labels.slab }} of Memcached {{ $labels.instance }} evicted an item"
            " {{ $value | humanizeDuration }} after its last access (threshold"
            " @{threshold}) while evicting items that had been read: the cache is too small for its"
            " working set."
        ),
        category="efficiency",
        action=(
            "give it more memory (-m) or servers, let the slab automover rebalance classes, "
            "or store smaller values"
        ),
        check=_mc_evicted_early,
    ),
    AlertDef(
        name="MemcachedConnectionsNearLimit",
        expr=(
            "memcached_current_connections{@{selector}}\n"
            "/ (memcached_max_connections{@{selector}} > 0) > @{threshold}"
        ),
        summary="Memcached connections are close to the limit.",
        description=(
            "Memcached {{ $labels.instance }} has {{ $value | humanizePercentage }} of its"
            " connection limit open (threshold @{threshold|pct})."
        ),
        category="connections",
        action=(
            "fix clients that open too many or leak connections; raise -c and the fd limit "
            "if the load is legitimate"
        ),
        check=connections_near_limit,
    ),
    AlertDef(
        name="MemcachedListenerDisabled",
        expr=first_events("memcached_connections_listener_disabled_total{@{selector}}", _UPTIME),
        summary="Memcached stopped accepting connections at its limit.",
        description=(
            "Memcached {{ $labels.instance }} disabled its listener {{ $value | humanize }}"
            " times in the last 5 minutes: new clients wait or time out."
        ),
        category="connections",
        action="raise -c or cut client connections now",
        check=_mc_listener,
    ),
    AlertDef(
        name="MemcachedConnectionsRejected",
        expr=first_events("memcached_connections_rejected_total{@{selector}}", _UPTIME),
        summary="Memcached rejects connections at its limit.",
        description=(
            "Memcached {{ $labels.instance }} rejected {{ $value | humanize }} connections in"
            " the last 5 minutes."
        ),
        category="connections",
        action="raise -c or cut client connections; fix clients that leak connections",
        check=_mc_rejected,
    ),
    AlertDef(
        name="MemcachedSlabOutOfMemory",
        # A slab class is listed only once it holds items, so its counter can be born
        # above 0 at any time: a series new since 5 minutes ago on a server watched
        # then counts as new events.
        expr=first_events(_SLAB_OOM, _UPTIME) + "\n"
        f"or (({_SLAB_OOM} > 0 unless {_SLAB_OOM} offset 5m)\n"
        "    and on (job, instance) (memcached_up{@{selector}} offset 5m == 1))",
        summary="Memcached could not store items for lack of memory.",
        description=(
            "Slab class {{ $labels.slab }} of Memcached {{ $labels.instance }} failed to store"
            " {{ $value | humanize }} items in the last 5 minutes."
        ),
        category="memory",
        action=(
            "enable slab_reassign and slab_automove, give the server more memory, and check "
            "values near the item size limit"
        ),
        check=_mc_slab_oom,
    ),
)
