"""Memcached rules: availability, efficiency, memory and connections."""

from __future__ import annotations

from cachescope.rules.model import Alert, Group, Recording, first_events

_UPTIME = "memcached_uptime_seconds{@{selector}}"
_SLAB_OOM = "memcached_slab_items_outofmemory_total{@{selector}}"

_GETS = 'memcached_commands_total{@{selector}, command="get", status="%s"}'

RECORDING = Group(
    "cachescope.memcached.recording",
    (
        Recording(
            "instance:memcached_get_hits:rate5m",
            f"sum without (command, status) (rate({_GETS % 'hit'}[5m]))",
        ),
        Recording(
            "instance:memcached_get_misses:rate5m",
            f"sum without (command, status) (rate({_GETS % 'miss'}[5m]))",
        ),
        Recording(
            "instance:memcached_hit_ratio:ratio_rate5m",
            "instance:memcached_get_hits:rate5m{@{selector}}\n"
            "/\n"
            "(instance:memcached_get_hits:rate5m{@{selector}}"
            " + instance:memcached_get_misses:rate5m{@{selector}} > 0)",
        ),
        Recording(
            "instance:memcached_memory_utilization:ratio",
            "memcached_current_bytes{@{selector}} / (memcached_limit_bytes{@{selector}} > 0)",
        ),
        Recording(
            "instance:memcached_evicted_items:rate5m",
            "rate(memcached_items_evicted_total{@{selector}}[5m])",
        ),
        Recording(
            "instance:memcached_commands:rate5m",
            "sum without (command, status) (rate(memcached_commands_total{@{selector}}[5m]))",
        ),
    ),
)

ALERTS = Group(
    "cachescope.memcached.alerts",
    (
        Alert(
            "MemcachedDown",
            "memcached_up{@{selector}} == 0",
            "Memcached is down or cannot be scraped.",
            "cachescope has not been able to read Memcached {{ $labels.instance }} for more"
            " than @{for}: the server is down, or unreachable from the exporter.",
        ),
        Alert(
            "MemcachedHitRatioLow",
            "instance:memcached_hit_ratio:ratio_rate5m{@{selector}} < @{threshold}\n"
            "and on (job, instance)\n"
            "  instance:memcached_get_hits:rate5m{@{selector}}"
            " + instance:memcached_get_misses:rate5m{@{selector}} > @{min_gets}\n"
            "unless on (job, instance) memcached_uptime_seconds{@{selector}}"
            " < @{warmup|seconds}",
            "Memcached hit ratio is low.",
            "Memcached {{ $labels.instance }} answers {{ $value | humanizePercentage }} of"
            " gets from cache (threshold @{threshold|pct}).",
        ),
        Alert(
            "MemcachedEvictionsHigh",
            "instance:memcached_evicted_items:rate5m{@{selector}} > @{threshold}\n"
            "and on (job, instance)"
            " instance:memcached_hit_ratio:ratio_rate5m{@{selector}} < @{max_hit_ratio}",
            "Memcached evicts items while its hit ratio is low.",
            "Memcached {{ $labels.instance }} evicts {{ $value | humanize }} items/s and its"
            " hit ratio is below @{max_hit_ratio|pct}: it is too small for its working set.",
        ),
        Alert(
            # A full Memcached is an LRU cache at work; items pushed out soon after their
            # last use mean the working set does not fit, whatever the hit ratio says.
            "MemcachedItemsEvictedEarly",
            "memcached_slab_items_evicted_time_seconds{@{selector}} < @{threshold|seconds}\n"
            "and on (job, instance, slab)"
            " rate(memcached_slab_items_evicted_total{@{selector}}[5m]) > 0",
            "Memcached evicts items soon after their last use.",
            "Slab class {{ $labels.slab }} of Memcached {{ $labels.instance }} evicted an item"
            " {{ $value | humanizeDuration }} after its last access (threshold"
            " @{threshold}): the cache is too small for its working set.",
        ),
        Alert(
            "MemcachedConnectionsNearLimit",
            "memcached_current_connections{@{selector}}\n"
            "/ (memcached_max_connections{@{selector}} > 0) > @{threshold}",
            "Memcached connections are close to the limit.",
            "Memcached {{ $labels.instance }} has {{ $value | humanizePercentage }} of its"
            " connection limit open (threshold @{threshold|pct}).",
        ),
        Alert(
            "MemcachedListenerDisabled",
            first_events("memcached_connections_listener_disabled_total{@{selector}}", _UPTIME),
            "Memcached stopped accepting connections at its limit.",
            "Memcached {{ $labels.instance }} disabled its listener {{ $value | humanize }}"
            " times in the last 5 minutes: new clients wait or time out.",
        ),
        Alert(
            "MemcachedConnectionsRejected",
            first_events("memcached_connections_rejected_total{@{selector}}", _UPTIME),
            "Memcached rejects connections at its limit.",
            "Memcached {{ $labels.instance }} rejected {{ $value | humanize }} connections in"
            " the last 5 minutes.",
        ),
        Alert(
            "MemcachedSlabOutOfMemory",
            # A slab class is listed only once it holds items, so its counter can be born
            # above 0 at any time: a series new since 5 minutes ago on a server watched
            # then counts as new events.
            first_events(_SLAB_OOM, _UPTIME) + "\n"
            f"or (({_SLAB_OOM} > 0 unless {_SLAB_OOM} offset 5m)\n"
            "    and on (job, instance) (memcached_up{@{selector}} offset 5m == 1))",
            "Memcached could not store items for lack of memory.",
            "Slab class {{ $labels.slab }} of Memcached {{ $labels.instance }} failed to store"
            " {{ $value | humanize }} items in the last 5 minutes.",
        ),
    ),
)

GROUPS = (RECORDING, ALERTS)
