"""The Redis checks: one per alert of rules/redis_health.py and rules/redis_topology.py."""

from __future__ import annotations

import operator
from collections.abc import Callable

from cachescope.analyze.checks import (
    Check,
    Params,
    connections_near_limit,
    event,
    evictions_high,
    hit_ratio_low,
    human_bytes,
    pct,
    register,
    scrape_slow,
    seconds,
)
from cachescope.analyze.figures import Figures

REDIS: dict[str, Check] = {}
SLOTS = 16384


def check(*names: str) -> Callable[[Check], Check]:
    return register(REDIS, *names)


@check("RedisRestarted")
def _restarted(f: Figures, p: Params) -> str | None:
    if f.uptime is None or f.uptime >= seconds(p, "window"):
        return None
    return f"restarted {f.uptime:.0f}s ago: the cache is cold unless it loaded a dataset"


@check("RedisLoading")
def _loading(f: Figures, p: Params) -> str | None:
    return "loading its dataset: clients get LOADING errors" if f.loading else None


def _memory(f: Figures) -> str:
    return f"{human_bytes(f.used)} of maxmemory {human_bytes(f.maxmemory)}"


def cannot_evict(f: Figures, threshold: float) -> bool:
    """True where eviction cannot free the headroom: noeviction, or volatile-* with few TTLs."""
    if f.policy == "noeviction":
        return True
    if f.policy is None or not f.policy.startswith("volatile-") or not f.keys:
        return False
    return (f.keys_expiring or 0.0) < (1 - threshold) * f.keys


@check("RedisMemoryNearLimit")
def _memory_near_limit(f: Figures, p: Params) -> str | None:
    ratio = f.memory_ratio
    if ratio is None or ratio <= p["threshold"] or not cannot_evict(f, p["threshold"]):
        return None
    return (
        f"memory {pct(ratio)} used ({_memory(f)}; threshold {pct(p['threshold'])}) under "
        f"maxmemory-policy {f.policy}, which cannot make room: at 100% writes fail with OOM"
    )


@check("RedisRssNearSystemMemory")
def _rss_near_system(f: Figures, p: Params) -> str | None:
    if f.rss is None or not f.system_memory or f.rss / f.system_memory <= p["threshold"]:
        return None
    return (
        f"RSS {human_bytes(f.rss)} is {pct(f.rss / f.system_memory)} of the host's "
        f"{human_bytes(f.system_memory)} (threshold {pct(p['threshold'])})"
    )


@check("RedisMaxmemoryUnset")
def _maxmemory_unset(f: Figures, p: Params) -> str | None:
    expires = bool(f.keys_expiring) or bool(f.expiries_per_second)
    if f.maxmemory != 0 or f.role != "master" or not expires:
        return None
    return f"keys expire like a cache but maxmemory is 0; it uses {human_bytes(f.used)}"


@check("RedisOutOfMemoryErrors")
def _oom(f: Figures, p: Params) -> str | None:
    return event(f, "OOM", "commands refused with 'OOM command not allowed'")


def _fragmentation(f: Figures, p: Params, high: bool) -> str | None:
    ratio = f.fragmentation
    if ratio is None or f.used is None or f.used <= p["min_used_bytes"]:
        return None
    if (ratio <= p["threshold"]) if high else (ratio >= p["threshold"]):
        return None
    if high:
        return f"fragmentation ratio (RSS / used) {ratio:.2f} above {p['threshold']}"
    return f"fragmentation ratio {ratio:.2f} below {p['threshold']}: memory is swapped out"


@check("RedisFragmentationHigh")
def _fragmentation_high(f: Figures, p: Params) -> str | None:
    return _fragmentation(f, p, high=True)


@check("RedisFragmentationRatioLow")
def _fragmentation_low(f: Figures, p: Params) -> str | None:
    return _fragmentation(f, p, high=False)


@check("RedisRssFarAboveUsed")
def _rss(f: Figures, p: Params) -> str | None:
    if f.rss is None or f.used is None or f.rss - f.used <= p["threshold"]:
        return None
    return f"RSS {human_bytes(f.rss)} is {human_bytes(f.rss - f.used)} above used memory"


@check("RedisHitRatioLow")
def _hit_ratio(f: Figures, p: Params) -> str | None:
    return hit_ratio_low(f, p, "min_lookups")


@check("RedisEvictionsHigh")
def _evictions(f: Figures, p: Params) -> str | None:
    return evictions_high(f, p, "keys")


@check("RedisMissSpike")
def _miss_spike(f: Figures, p: Params) -> str | None:
    rate, average = f.misses_per_second, f.misses_average
    if rate is None or average is None or rate <= p["min_rate"] or rate <= p["factor"] * average:
        return None
    return f"{rate:.0f} misses/s, over {p['factor']} times the {average:.1f}/s since start"


@check("RedisKeysWithoutTtl")
def _keys_without_ttl(f: Figures, p: Params) -> str | None:
    ratio = f.no_ttl_ratio
    cache = bool(f.keys_expiring) or (f.policy is not None and f.policy != "noeviction")
    if ratio is None or not cache or (f.keys or 0) <= p["min_keys"] or ratio <= p["threshold"]:
        return None
    return f"{pct(ratio)} of {f.keys:.0f} keys have no TTL (threshold {pct(p['threshold'])})"


register(REDIS, "RedisConnectionsNearLimit")(connections_near_limit)


@check("RedisRejectedConnections")
def _rejected(f: Figures, p: Params) -> str | None:
    return event(f, "rejected", "connections rejected at maxclients")


@check("RedisBlockedClientsHigh")
def _blocked(f: Figures, p: Params) -> str | None:
    if f.blocked is None or f.blocked <= p["threshold"]:
        return None
    return f"{f.blocked:.0f} clients in a blocking call (threshold {p['threshold']})"


@check("RedisConnectionChurnHigh")
def _churn(f: Figures, p: Params) -> str | None:
    rate = f.connections_per_second
    if rate is None or rate <= p["threshold"]:
        return None
    return f"{rate:.0f} new connections/s (threshold {p['threshold']}): clients do not pool"


@check("RedisCommandLatencyHigh")
def _latency(f: Figures, p: Params) -> str | None:
    slow = [
        c
        for c in f.commands
        if c.calls_per_second > p["min_calls"] and c.avg_seconds > p["threshold"]
    ]
    if not slow:
        return None
    worst = max(slow, key=lambda c: c.avg_seconds)
    return (
        f"{worst.name} takes {worst.avg_seconds * 1000:.1f} ms per call on average "
        f"(threshold {p['threshold'] * 1000:g} ms)"
    )


@check("RedisSlowlogGrowing")
def _slowlog(f: Figures, p: Params) -> str | None:
    if f.slowlog_new is None or f.interval <= 0:
        return None
    per_10m = f.slowlog_new * 600 / f.interval
    if per_10m <= p["threshold"]:
        return None
    return f"{f.slowlog_new:g} slow commands logged in {f.interval:.0f}s (~{per_10m:.0f}/10m)"


@check("RedisLatencySpike")
def _spike(f: Figures, p: Params) -> str | None:
    for name, duration, age in f.latency_events:
        if duration > p["threshold"] and age < seconds(p, "within"):
            return f"latency event {name} of {duration * 1000:.0f} ms, {age:.0f}s ago"
    return None


@check("RedisBusyScript")
def _busy(f: Figures, p: Params) -> str | None:
    return event(f, "BUSY", "commands refused with BUSY (a script ran too long)")


@check("RedisReplicaLinkDown")
def _link_down(f: Figures, p: Params) -> str | None:
    return "replica has no link to its primary" if f.link_up is False else None


@check("RedisReplicaNotOnline")
def _not_online(f: Figures, p: Params) -> str | None:
    stuck = [r for r in f.replicas if r.state != "online"]
    if not stuck:
        return None
    return "replicas not online: " + ", ".join(f"{r.address} ({r.state})" for r in stuck)


@check("RedisReplicaLagging")
def _lagging(f: Figures, p: Params) -> str | None:
    late = [r for r in f.replicas if r.lag_seconds is not None and r.lag_seconds > p["threshold"]]
    if not late:
        return None
    return "replicas lagging: " + ", ".join(f"{r.address} ({r.lag_seconds:g}s)" for r in late)


@check("RedisFullResyncs")
def _full_syncs(f: Figures, p: Params) -> str | None:
    if f.full_syncs is None or f.full_syncs < p["threshold"] or f.full_syncs == 0:
        return None
    return f"{f.full_syncs:g} full resyncs sent to replicas within the hour"


@check("RedisRdbSaveFailed")
def _rdb_failed(f: Figures, p: Params) -> str | None:
    return "the last RDB background save failed" if f.rdb_ok is False else None


@check("RedisAofWriteFailed")
def _aof_write(f: Figures, p: Params) -> str | None:
    return "the last AOF write failed" if f.aof_write_ok is False else None


@check("RedisAofRewriteFailed")
def _aof_rewrite(f: Figures, p: Params) -> str | None:
    return "the last AOF rewrite failed" if f.aof_rewrite_ok is False else None


@check("RedisRdbSaveTooOld")
def _rdb_old(f: Figures, p: Params) -> str | None:
    age = f.last_save_age
    if age is None or not f.rdb_saves or not f.changes_since_save:
        return None
    if age <= seconds(p, "threshold"):
        return None
    return f"last snapshot {age / 3600:.1f} h ago with {f.changes_since_save:.0f} changes since"


def _cluster(key: str, failing: Callable[[float, float], bool], bad: float, text: str) -> Check:
    """A cluster check: the figure `key` is `failing` compared with `bad`."""

    def run(f: Figures, p: Params) -> str | None:
        value = f.cluster.get(key)
        return text.format(value=value) if value is not None and failing(value, bad) else None

    return run


_CLUSTER = {
    "RedisClusterStateNotOk": ("state", operator.eq, 0, "cluster_state is fail (CLUSTERDOWN)"),
    "RedisClusterSlotsUncovered": (
        "slots_assigned",
        operator.lt,
        SLOTS,
        "only {value:.0f} of 16384 slots are assigned",
    ),
    "RedisClusterSlotsFailing": ("slots_fail", operator.gt, 0, "{value:.0f} slots on failed nodes"),
    "RedisClusterSlotsPfail": (
        "slots_pfail",
        operator.gt,
        0,
        "{value:.0f} slots on nodes that may be failing (PFAIL)",
    ),
    "RedisClusterNodeDisconnected": (
        "disconnected",
        operator.gt,
        0,
        "no cluster-bus link to {value:.0f} nodes",
    ),
    "RedisClusterNodeFailed": ("failed_peers", operator.gt, 0, "{value:.0f} nodes flagged fail"),
}
for _name, (_key, _failing, _bad, _text) in _CLUSTER.items():
    REDIS[_name] = _cluster(_key, _failing, _bad, _text)


@check("RedisSentinelMasterDown")
def _sentinel_down(f: Figures, p: Params) -> str | None:
    down = [m.name for m in f.sentinel_masters if not m.ok]
    return "master(s) seen down: " + ", ".join(down) if down else None


@check("RedisSentinelMasterOdown")
def _sentinel_odown(f: Figures, p: Params) -> str | None:
    down = [m.name for m in f.sentinel_masters if m.odown]
    return "master(s) objectively down: " + ", ".join(down) if down else None


@check("RedisSentinelQuorumAtRisk")
def _quorum_risk(f: Figures, p: Params) -> str | None:
    risky = [
        f"{m.name} ({m.ok_sentinels:g} healthy, quorum {m.quorum:g})"
        for m in f.sentinel_masters
        if m.ok_sentinels is not None
        and m.quorum is not None
        and m.ok_sentinels < m.quorum + p["spare"]
    ]
    return "too few sentinels: " + ", ".join(risky) if risky else None


@check("RedisSentinelQuorumLost")
def _quorum_lost(f: Figures, p: Params) -> str | None:
    lost = [m.name for m in f.sentinel_masters if not m.ckquorum_ok]
    return "SENTINEL CKQUORUM fails for " + ", ".join(lost) if lost else None


@check("RedisSentinelTilt")
def _tilt(f: Figures, p: Params) -> str | None:
    return "the sentinel is in TILT mode" if f.tilt else None


register(REDIS, "CachescopeScrapeSlow")(scrape_slow)
