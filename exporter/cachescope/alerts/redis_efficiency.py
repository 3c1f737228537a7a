"""Redis alerts on how well the cache serves: hit ratio, evictions, miss spikes, TTLs."""

from __future__ import annotations

from cachescope.alerts.model import AlertDef
from cachescope.analyze.checks import Params, evictions_high, hit_ratio_low, pct
from cachescope.analyze.figures import Figures

GROUP = "cachescope.redis.efficiency"


def _hit_ratio(f: Figures, p: Params) -> str | None:
    return hit_ratio_low(f, p, "min_lookups")


def _evictions(f: Figures, p: Params) -> str | None:
    return evictions_high(f, p, "keys")


def _miss_spike(f: Figures, p: Params) -> str | None:
    rate, average = f.misses_per_second, f.misses_average
    if rate is None or average is None or rate <= p["min_rate"] or rate <= p["factor"] * average:
        return None
    return f"{rate:.0f} misses/s, over {p['factor']} times the {average:.1f}/s since start"


def _keys_without_ttl(f: Figures, p: Params) -> str | None:
    ratio = f.no_ttl_ratio
    cache = bool(f.keys_expiring) or (f.policy is not None and f.policy != "noeviction")
    evicts_them = (f.policy or "").startswith("allkeys-") and bool(f.maxmemory)
    if ratio is None or not cache or evicts_them:
        return None
    if (f.keys or 0) <= p["min_keys"] or ratio <= p["threshold"]:
        return None
    return f"{pct(ratio)} of {f.keys:.0f} keys have no TTL (threshold {pct(p['threshold'])})"


ALERTS = (
    AlertDef(
        name="RedisHitRatioLow",
        fires_below=True,
        expr=(
            "instance:redis_keyspace_hit_ratio:ratio_rate5m{@{selector}} < @{threshold}\n"
            "and on (job, instance)\n"
            "  instance:redis_keyspace_hits:rate5m{@{selector}}"
            " + instance:redis_keyspace_misses:rate5m{@{selector}} > @{min_lookups}\n"
            "unless on (job, instance) redis_uptime_in_seconds{@{selector}}"
            " < @{warmup|seconds}"
        ),
        summary="Redis cache hit ratio is low.",
        description=(
            "Redis {{ $labels.instance }} serves {{ $value | humanizePercentage }} of key"
            " lookups from cache (threshold @{threshold|pct})."
        ),
        category="efficiency",
        action=(
            "with evictions, raise maxmemory or use allkeys-lfu; with expiries, lengthen TTLs; "
            "otherwise look for reads of keys that are never written"
        ),
        check=_hit_ratio,
    ),
    AlertDef(
        name="RedisEvictionsHigh",
        expr=(
            "instance:redis_evicted_keys:rate5m{@{selector}} > @{threshold}\n"
            "and on (job, instance)"
            " instance:redis_keyspace_hit_ratio:ratio_rate5m{@{selector}} < @{max_hit_ratio}"
        ),
        summary="Redis evicts keys while its hit ratio is low.",
        description=(
            "Redis {{ $labels.instance }} evicts {{ $value | humanize }} keys/s and its hit"
            " ratio is below @{max_hit_ratio|pct}: the cache is too small for its working set."
        ),
        category="efficiency",
        action=(
            "the working set does not fit: raise maxmemory or shard, try allkeys-lfu, "
            "and cut value sizes"
        ),
        check=_evictions,
    ),
    AlertDef(
        name="RedisMissSpike",
        expr=(
            "instance:redis_keyspace_misses:rate5m{@{selector}}\n"
            "  > @{factor} * rate(redis_keyspace_misses_total{@{selector}}[1h] offset 5m)\n"
            "and instance:redis_keyspace_misses:rate5m{@{selector}} > @{min_rate}\n"
            # rate() over a window the series only partly covers divides by the whole hour:
            # a baseline needs an hour of history, or every new target looks like a spike.
            "and on (job, instance) redis_keyspace_misses_total{@{selector}} offset 65m"
        ),
        summary="Redis cache misses jumped (stampede).",
        description=(
            "Redis {{ $labels.instance }} misses {{ $value | humanize }} lookups/s, more than"
            " @{factor} times the hour before: the database behind it takes the load."
        ),
        category="efficiency",
        action=(
            "protect the database, then add jitter to TTLs, refresh hot keys early and let one "
            "caller rebuild a key (SET NX EX lock)"
        ),
        check=_miss_spike,
    ),
    AlertDef(
        name="RedisKeysWithoutTtl",
        expr=(
            "(\n"
            "  sum without (db) (redis_db_keys{@{selector}})\n"
            "  - sum without (db) (redis_db_keys_expiring{@{selector}})\n"
            ") / (sum without (db) (redis_db_keys{@{selector}}) > @{min_keys})"
            " > @{threshold}\n"
            "and on (job, instance) (\n"
            "  sum without (db) (redis_db_keys_expiring{@{selector}}) > 0\n"
            '  or redis_instance_info{@{selector}, maxmemory_policy!="noeviction"}\n'
            ")\n"
            # Under allkeys-* with a maxmemory, eviction removes keys without a TTL as well:
            # they cannot pile up, and TTLs there are a choice, not a need.
            "unless on (job, instance) (\n"
            '  redis_instance_info{@{selector}, maxmemory_policy=~"allkeys-.*"}\n'
            "  and on (job, instance) redis_memory_max_bytes{@{selector}} > 0\n"
            ")"
        ),
        summary="Many Redis cache keys have no TTL.",
        description=(
            "{{ $value | humanizePercentage }} of the keys of Redis {{ $labels.instance }}"
            " have no expiry (threshold @{threshold|pct})."
        ),
        category="keys",
        action=(
            "set TTLs on cache keys (SET key value EX 3600, EXPIRE after HSET); backfill existing "
            "ones with SCAN + EXPIRE"
        ),
        check=_keys_without_ttl,
    ),
)
