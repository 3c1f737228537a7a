"""Redis alerts on memory: fullness where eviction cannot help, OOM, fragmentation, RSS.

Every series is picked by `@{selector}` and matched on (job, instance), so the
rules work on /metrics (instance = target name) and /scrape alike.
"""

from __future__ import annotations

from cachescope.alerts.model import AlertDef
from cachescope.analyze.checks import Params, event, human_bytes, pct
from cachescope.analyze.figures import Figures
from cachescope.rules.model import first_events

GROUP = "cachescope.redis.memory"
_UPTIME = "redis_uptime_in_seconds{@{selector}}"


def _memory(f: Figures) -> str:
    return f"{human_bytes(f.used)} of maxmemory {human_bytes(f.maxmemory)}"


def cannot_evict(f: Figures, threshold: float) -> bool:
    """True where eviction cannot free the headroom: noeviction, or volatile-* with few TTLs."""
    if f.policy == "noeviction":
        return True
    if f.policy is None or not f.policy.startswith("volatile-") or not f.keys:
        return False
    return (f.keys_expiring or 0.0) < (1 - threshold) * f.keys


def _fragmentation(f: Figures, p: Params, high: bool) -> str | None:
    ratio = f.fragmentation
    if ratio is None or f.used is None or f.used <= p["min_used_bytes"]:
        return None
    if (ratio <= p["threshold"]) if high else (ratio >= p["threshold"]):
        return None
    if high:
        return f"fragmentation ratio (RSS / used) {ratio:.2f} above {p['threshold']}"
    return f"fragmentation ratio {ratio:.2f} below {p['threshold']}: memory is swapped out"


def _memory_near_limit(f: Figures, p: Params) -> str | None:
    ratio = f.memory_ratio
    if ratio is None or ratio <= p["threshold"] or not cannot_evict(f, p["threshold"]):
        return None
    return (
        f"memory {pct(ratio)} used ({_memory(f)}; threshold {pct(p['threshold'])}) under "
        f"maxmemory-policy {f.policy}, which cannot make room: at 100% writes fail with OOM"
    )


def _maxmemory_unset(f: Figures, p: Params) -> str | None:
    expires = bool(f.keys_expiring) or bool(f.expiries_per_second)
    if f.maxmemory != 0 or f.role != "master" or not expires:
        return None
    return f"keys expire like a cache but maxmemory is 0; it uses {human_bytes(f.used)}"


def _oom(f: Figures, p: Params) -> str | None:
    return event(f, "OOM", "commands refused with 'OOM command not allowed'")


def _fragmentation_high(f: Figures, p: Params) -> str | None:
    return _fragmentation(f, p, high=True)


def _fragmentation_low(f: Figures, p: Params) -> str | None:
    return _fragmentation(f, p, high=False)


def _rss(f: Figures, p: Params) -> str | None:
    if f.rss is None or f.used is None or f.rss - f.used <= p["threshold"]:
        return None
    return f"RSS {human_bytes(f.rss)} is {human_bytes(f.rss - f.used)} above used memory"


def _rss_near_system(f: Figures, p: Params) -> str | None:
    if f.rss is None or not f.system_memory or f.rss / f.system_memory <= p["threshold"]:
        return None
    return (
        f"RSS {human_bytes(f.rss)} is {pct(f.rss / f.system_memory)} of the host's "
        f"{human_bytes(f.system_memory)} (threshold {pct(p['threshold'])})"
    )


ALERTS = (
    AlertDef(
        name="RedisMemoryNearLimit",
        # Only where eviction cannot make room: under allkeys-* a full cache is the
        # normal state, and RedisEvictionsHigh / RedisRssNearSystemMemory speak for it.
        expr=(
            "instance:redis_memory_utilization:ratio{@{selector}} > @{threshold}\n"
            "and on (job, instance) (\n"
            '  redis_instance_info{@{selector}, maxmemory_policy="noeviction"}\n'
            "  or (\n"
            '    redis_instance_info{@{selector}, maxmemory_policy=~"volatile-.+"}\n'
            "    and on (job, instance)\n"
            "      sum without (db) (redis_db_keys_expiring{@{selector}})\n"
            "      < (1 - @{threshold}) * sum without (db) (redis_db_keys{@{selector}})\n"
            "  )\n"
            ")"
        ),
        summary="Redis is close to maxmemory and its policy cannot make room.",
        description=(
            "Redis {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its"
            " maxmemory (threshold @{threshold|pct}) under noeviction, or under a volatile-*"
            " policy with too few keys with a TTL to evict: at the limit writes fail with OOM."
        ),
        category="memory",
        action=(
            "writes will fail with OOM: for a cache set maxmemory-policy allkeys-lru or "
            "allkeys-lfu; under volatile-* set TTLs on keys that may go; else raise maxmemory "
            "within the host's RAM or delete what is not needed"
        ),
        check=_memory_near_limit,
    ),
    AlertDef(
        name="RedisMaxmemoryUnset",
        expr=(
            "redis_memory_used_bytes{@{selector}}\n"
            "and on (job, instance) redis_memory_max_bytes{@{selector}} == 0\n"
            'and on (job, instance) redis_instance_info{@{selector}, role="master"}\n'
            "and on (job, instance) (\n"
            "  sum without (db) (redis_db_keys_expiring{@{selector}}) > 0\n"
            "  or instance:redis_expired_keys:rate5m{@{selector}} > 0\n"
            ")"
        ),
        summary="Redis is used as a cache but has no maxmemory limit.",
        description=(
            "Redis {{ $labels.instance }} expires keys like a cache but has maxmemory 0;"
            " it uses {{ $value | humanize1024 }}B and can grow until the host runs out of"
            " memory."
        ),
        category="memory",
        action=(
            "set maxmemory below the host's memory and an eviction policy "
            "(CONFIG SET maxmemory 4gb; CONFIG SET maxmemory-policy allkeys-lru; CONFIG REWRITE)"
        ),
        check=_maxmemory_unset,
    ),
    AlertDef(
        name="RedisOutOfMemoryErrors",
        expr=first_events('redis_errors_total{@{selector}, err="OOM"}', _UPTIME),
        summary="Redis refuses commands with OOM errors.",
        description=(
            "Redis {{ $labels.instance }} answered {{ $value | humanize }} commands with"
            " 'OOM command not allowed' in the last 5 minutes."
        ),
        category="memory",
        action=(
            "make room now (raise maxmemory, UNLINK stale keys), then fix the cause: an eviction "
            "policy for a cache, TTLs for a volatile-* policy, a stuck consumer for a queue"
        ),
        check=_oom,
    ),
    AlertDef(
        name="RedisFragmentationHigh",
        expr=(
            "redis_mem_fragmentation_ratio{@{selector}} > @{threshold}\n"
            "and on (job, instance) redis_memory_used_bytes{@{selector}} > @{min_used_bytes}"
        ),
        summary="Redis memory is fragmented.",
        description=(
            "Redis {{ $labels.instance }} has a fragmentation ratio (RSS / used) of"
            ' {{ $value | printf "%.2f" }} (threshold @{threshold}).'
        ),
        category="memory",
        action=(
            "enable activedefrag (CONFIG SET activedefrag yes); a restart or failover to a fresh "
            "replica resets fragmentation at once"
        ),
        check=_fragmentation_high,
    ),
    AlertDef(
        name="RedisFragmentationRatioLow",
        fires_below=True,
        expr=(
            "redis_mem_fragmentation_ratio{@{selector}} < @{threshold}\n"
            "and on (job, instance) redis_memory_used_bytes{@{selector}} > @{min_used_bytes}"
        ),
        summary="Redis memory is probably swapped out.",
        description=(
            "Redis {{ $labels.instance }} has less RSS than used memory (ratio"
            ' {{ $value | printf "%.2f" }}): part of its dataset is in swap, and latency suffers.'
        ),
        category="memory",
        action=(
            "the server swaps: lower maxmemory or free host memory, set vm.swappiness low and "
            "vm.overcommit_memory=1"
        ),
        check=_fragmentation_low,
    ),
    AlertDef(
        name="RedisRssFarAboveUsed",
        expr=(
            "redis_memory_used_rss_bytes{@{selector}} - redis_memory_used_bytes{@{selector}}"
            " > @{threshold}"
        ),
        summary="Redis holds much more memory than its data needs.",
        description=(
            "Redis {{ $labels.instance }} holds {{ $value | humanize1024 }}B of RSS above its"
            " used memory (threshold @{threshold|bytes})."
        ),
        category="memory",
        action="run MEMORY PURGE, enable activedefrag, and size the host for RSS, not used memory",
        check=_rss,
    ),
    AlertDef(
        name="RedisRssNearSystemMemory",
        expr=(
            "redis_memory_used_rss_bytes{@{selector}}\n"
            "/ (redis_total_system_memory_bytes{@{selector}} > 0) > @{threshold}"
        ),
        summary="Redis' resident memory approaches the host's memory.",
        description=(
            "Redis {{ $labels.instance }} holds {{ $value | humanizePercentage }} of the"
            " host's memory as RSS (threshold @{threshold|pct}): the kernel's OOM killer,"
            " not maxmemory, decides what happens next."
        ),
        category="memory",
        action=(
            "lower maxmemory so data plus buffers fit the host, cap client output buffers, "
            "and run MEMORY PURGE or activedefrag if fragmentation is the cause"
        ),
        check=_rss_near_system,
    ),
)
