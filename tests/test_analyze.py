"""`cachescope analyze`: findings on canned figures per threshold, and reports on real servers."""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import redis
from cachescope.analyze.checks import human_bytes
from cachescope.analyze.figures import Command, Figures, Replica, SentinelMaster
from cachescope.analyze.findings import PRIORITIES, evaluate, unreachable
from cachescope.analyze.judged import MEMCACHED, NOT_JUDGED, REDIS
from cachescope.analyze.sampling import sample
from cachescope.analyze.search import SearchIndex
from cachescope.cli import main
from cachescope.config.credentials import Credentials
from cachescope.config.records import target_from_uri
from cachescope.rules import thresholds
from click.testing import CliRunner
from pymemcache.client.base import Client as MemcacheClient
from servers import ROOT, MemcachedServer, RedisServer, free_port

SCHEMA = json.loads((ROOT / "docs/analyze-report.schema.json").read_text())
DEFAULTS = thresholds.load()
GIB = 1024**3
MIB = 1024**2

# Alerts analyze cannot judge from two samples of one target, each with its reason in the
# alert registry: they need history or a view from outside the target.
NOT_EVALUATED = set(NOT_JUDGED)


def healthy(kind: str = "redis", **changes: Any) -> Figures:
    """A server with nothing wrong: up a day, 95% hits, half its memory, a few clients."""
    figures = Figures(
        kind,
        interval=10.0,
        duration=0.01,
        uptime=86400,
        hits_per_second=95.0,
        misses_per_second=5.0,
        misses_average=5.0,
        evictions_per_second=0.0,
        expiries_per_second=1.0,
        used=50 * MIB,
        rss=60 * MIB,
        maxmemory=100 * MIB,
        policy="allkeys-lru",
        fragmentation=1.2,
        clients=10,
        blocked=0,
        maxclients=10000,
        connections_per_second=0.1,
        keys=5000,
        keys_expiring=5000,
        role="master",
    )
    return dataclasses.replace(figures, **changes)


def index(**changes: Any) -> SearchIndex:
    """A healthy search index: fully indexed, no failures, 4 MiB."""
    healthy_index = SearchIndex(
        name="products",
        docs=1000,
        records=5000,
        terms=800,
        percent_indexed=1.0,
        indexing=False,
        failures=(0, 0),
        memory_bytes=4 * MIB,
        inverted_bytes=MIB,
    )
    return dataclasses.replace(healthy_index, **changes)


def fired(figures: Figures, limits: dict[str, Any] = DEFAULTS) -> dict[str, str]:
    """{alert: priority} of the findings."""
    return {finding.alert: finding.priority for finding in evaluate(figures, limits)}


def test_healthy_figures_give_no_finding() -> None:
    assert fired(healthy()) == {}
    assert fired(healthy("memcached", policy=None, role=None)) == {}


def test_every_alert_of_the_rules_pack_is_evaluated_or_listed_as_not_applicable() -> None:
    alerts = set(DEFAULTS["alerts"])
    assert set(REDIS) | set(MEMCACHED) | NOT_EVALUATED == alerts
    assert not NOT_EVALUATED & (set(REDIS) | set(MEMCACHED))


def _oom(during: float, total: float) -> dict[str, tuple[float, float]]:
    return {"OOM": (during, total)}


# (alert, figures where it fires, its priority, figures just short of it)
CASES: list[tuple[str, Figures, str, Figures]] = [
    ("RedisRestarted", healthy(uptime=60), "low", healthy(uptime=600)),
    ("RedisLoading", healthy(loading=True), "medium", healthy(loading=False)),
    (
        "RedisMemoryNearLimit",
        healthy(policy="noeviction", used=85 * MIB),
        "high",
        healthy(policy="noeviction", used=80 * MIB),
    ),
    (
        "RedisMemoryNearLimit",
        healthy(policy="noeviction", used=95 * MIB),
        "critical",
        healthy(policy="noeviction", used=90 * MIB),
    ),
    (  # a full LRU cache is healthy: eviction makes room
        "RedisMemoryNearLimit",
        healthy(policy="noeviction", used=100 * MIB),
        "critical",
        healthy(policy="allkeys-lru", used=100 * MIB),
    ),
    (  # volatile-*: 10% of the keys with a TTL cannot free 20% of headroom, half of them can
        "RedisMemoryNearLimit",
        healthy(policy="volatile-lru", used=85 * MIB, keys=1000, keys_expiring=100),
        "high",
        healthy(policy="volatile-lru", used=85 * MIB, keys=1000, keys_expiring=500),
    ),
    (
        "RedisRssNearSystemMemory",
        healthy(rss=950 * MIB, system_memory=1000 * MIB),
        "medium",
        healthy(rss=900 * MIB, system_memory=1000 * MIB),
    ),
    (
        "RedisMaxmemoryUnset",
        healthy(maxmemory=0),
        "medium",
        healthy(maxmemory=0, keys_expiring=0, expiries_per_second=0.0),
    ),
    ("RedisOutOfMemoryErrors", healthy(events=_oom(3, 3)), "critical", healthy(events=_oom(0, 0))),
    ("RedisOutOfMemoryErrors", healthy(events=_oom(0, 3)), "high", healthy()),
    (
        "RedisFragmentationHigh",
        healthy(fragmentation=1.6, used=200 * MIB, maxmemory=1000 * MIB),
        "medium",
        healthy(fragmentation=1.6, used=50 * MIB),
    ),
    (
        "RedisFragmentationHigh",
        healthy(fragmentation=1.6, used=200 * MIB, maxmemory=1000 * MIB),
        "medium",
        healthy(fragmentation=1.5, used=200 * MIB, maxmemory=1000 * MIB),
    ),
    (
        "RedisFragmentationRatioLow",
        healthy(fragmentation=0.9, used=200 * MIB, maxmemory=1000 * MIB),
        "critical",
        healthy(fragmentation=1.0, used=200 * MIB, maxmemory=1000 * MIB),
    ),
    (
        "RedisRssFarAboveUsed",
        healthy(rss=50 * MIB + 2 * GIB),
        "medium",
        healthy(rss=50 * MIB + GIB),
    ),
    (
        "RedisHitRatioLow",
        healthy(hits_per_second=70.0, misses_per_second=30.0),
        "medium",
        healthy(hits_per_second=80.0, misses_per_second=20.0),
    ),
    (
        "RedisHitRatioLow",
        healthy(hits_per_second=70.0, misses_per_second=30.0),
        "medium",
        healthy(hits_per_second=7.0, misses_per_second=3.0),  # too little traffic
    ),
    (
        "RedisHitRatioLow",
        healthy(hits_per_second=70.0, misses_per_second=30.0),
        "medium",
        healthy(hits_per_second=70.0, misses_per_second=30.0, uptime=600),  # warming up
    ),
    (
        "RedisEvictionsHigh",
        healthy(evictions_per_second=5.0, hits_per_second=50.0, misses_per_second=50.0),
        "medium",
        healthy(evictions_per_second=5.0),
    ),
    (
        "RedisMissSpike",
        healthy(misses_per_second=100.0, hits_per_second=900.0, misses_average=10.0),
        "medium",
        healthy(misses_per_second=100.0, hits_per_second=900.0, misses_average=40.0),
    ),
    (
        "RedisMissSpike",
        healthy(misses_per_second=100.0, hits_per_second=900.0, misses_average=10.0),
        "medium",
        healthy(misses_per_second=40.0, hits_per_second=900.0, misses_average=1.0),
    ),
    (
        "RedisKeysWithoutTtl",
        healthy(keys=2000, keys_expiring=900, policy="volatile-lru"),
        "medium",
        healthy(keys=2000, keys_expiring=1000, policy="volatile-lru"),
    ),
    (
        "RedisKeysWithoutTtl",
        healthy(keys=2000, keys_expiring=0, policy="volatile-lru"),
        "medium",
        healthy(keys=2000, keys_expiring=0, policy="noeviction"),  # a data store, not a cache
    ),
    (
        "RedisKeysWithoutTtl",
        healthy(keys=2000, keys_expiring=0, policy="volatile-lru"),
        "medium",
        healthy(keys=1000, keys_expiring=0, policy="volatile-lru"),
    ),
    (  # an LRU cache at its maxmemory evicts keys with or without a TTL
        "RedisKeysWithoutTtl",
        healthy(keys=2000, keys_expiring=0, policy="allkeys-lru", maxmemory=0),
        "medium",
        healthy(keys=2000, keys_expiring=0, policy="allkeys-lru"),
    ),
    ("RedisConnectionsNearLimit", healthy(clients=8100), "high", healthy(clients=8000)),
    ("RedisConnectionsNearLimit", healthy(clients=9600), "critical", healthy(clients=9500)),
    (
        "RedisRejectedConnections",
        healthy(events={"rejected": (1, 1)}),
        "critical",
        healthy(events={"rejected": (0, 0)}),
    ),
    ("RedisBlockedClientsHigh", healthy(blocked=51), "low", healthy(blocked=50)),
    (
        "RedisConnectionChurnHigh",
        healthy(connections_per_second=51.0),
        "low",
        healthy(connections_per_second=50.0),
    ),
    (
        "RedisCommandLatencyHigh",
        healthy(commands=[Command("hgetall", 5.0, 0.02)]),
        "medium",
        healthy(commands=[Command("hgetall", 5.0, 0.01), Command("keys", 0.5, 0.5)]),
    ),
    (  # judged on the p99 where the server has LATENCY HISTOGRAM, as the alert is
        "RedisCommandLatencyHigh",
        healthy(commands=[Command("eval", 5.0, 0.001, 0.02)]),
        "medium",
        healthy(commands=[Command("eval", 5.0, 0.02, 0.01)]),
    ),
    ("RedisSlowlogGrowing", healthy(slowlog_new=1.0), "medium", healthy(slowlog_new=0.0)),
    (
        "RedisSlowlogGrowing",
        healthy(slowlog_new=11.0, interval=600.0),
        "medium",
        healthy(slowlog_new=10.0, interval=600.0),
    ),
    (
        "RedisLatencySpike",
        healthy(latency_events=[("fork", 0.2, 10.0)]),
        "medium",
        healthy(latency_events=[("fork", 0.2, 400.0), ("command", 0.1, 1.0)]),
    ),
    ("RedisBusyScript", healthy(events={"BUSY": (2, 2)}), "medium", healthy()),
    ("RedisReplicaLinkDown", healthy(link_up=False), "critical", healthy(link_up=True)),
    (
        "RedisReplicaNotOnline",
        healthy(replicas=[Replica("10.0.0.2:6379", "wait_bgsave", 0)]),
        "medium",
        healthy(replicas=[Replica("10.0.0.2:6379", "online", 0)]),
    ),
    (
        "RedisReplicaLagging",
        healthy(replicas=[Replica("10.0.0.2:6379", "online", 11)]),
        "medium",
        healthy(replicas=[Replica("10.0.0.2:6379", "online", 10)]),
    ),
    ("RedisFullResyncs", healthy(full_syncs=2), "medium", healthy(full_syncs=1)),
    (  # three replicas added within the hour: one first sync each
        "RedisFullResyncs",
        healthy(full_syncs=4, replicas=[Replica(f"10.0.0.{i}:6379", "online", 0) for i in (1, 2)]),
        "medium",
        healthy(
            full_syncs=3, replicas=[Replica(f"10.0.0.{i}:6379", "online", 0) for i in (1, 2, 3)]
        ),
    ),
    ("RedisRdbSaveFailed", healthy(rdb_ok=False), "critical", healthy(rdb_ok=True)),
    ("RedisAofWriteFailed", healthy(aof_write_ok=False), "critical", healthy(aof_write_ok=True)),
    (
        "RedisAofRewriteFailed",
        healthy(aof_rewrite_ok=False),
        "medium",
        healthy(aof_rewrite_ok=True),
    ),
    (
        "RedisRdbSaveTooOld",
        healthy(last_save_age=25 * 3600, rdb_saves=3, changes_since_save=5),
        "medium",
        healthy(last_save_age=23 * 3600, rdb_saves=3, changes_since_save=5),
    ),
    (
        "RedisRdbSaveTooOld",
        healthy(last_save_age=25 * 3600, rdb_saves=3, changes_since_save=5),
        "medium",
        healthy(last_save_age=25 * 3600, rdb_saves=0, changes_since_save=5),  # never saves
    ),
    (
        "RedisClusterStateNotOk",
        healthy(cluster={"state": 0}),
        "critical",
        healthy(cluster={"state": 1}),
    ),
    (
        "RedisClusterSlotsUncovered",
        healthy(cluster={"slots_assigned": 16000}),
        "critical",
        healthy(cluster={"slots_assigned": 16384}),
    ),
    (
        "RedisClusterSlotsFailing",
        healthy(cluster={"slots_fail": 5}),
        "critical",
        healthy(cluster={"slots_fail": 0}),
    ),
    (
        "RedisClusterSlotsPfail",
        healthy(cluster={"slots_pfail": 5}),
        "medium",
        healthy(cluster={"slots_pfail": 0}),
    ),
    (
        "RedisClusterNodeDisconnected",
        healthy(cluster={"disconnected": 1}),
        "medium",
        healthy(cluster={"disconnected": 0}),
    ),
    (  # 200 MOVED replies beside 800 commands served in the 10 s sample: 20%
        "RedisClusterMovedHigh",
        healthy(ops_per_second=80.0, events={"MOVED": (200.0, 200.0)}),
        "medium",
        healthy(ops_per_second=80.0, events={"MOVED": (40.0, 900.0)}),
    ),
    (
        "RedisClusterNodeFailed",
        healthy(cluster={"failed_peers": 1}),
        "medium",
        healthy(cluster={"failed_peers": 0}),
    ),
    (
        "RedisSentinelMasterDown",
        healthy(sentinel_masters=[SentinelMaster("mymaster", False, False, 3, 2, True)]),
        "medium",
        healthy(sentinel_masters=[SentinelMaster("mymaster", True, False, 3, 2, True)]),
    ),
    (
        "RedisSentinelMasterOdown",
        healthy(sentinel_masters=[SentinelMaster("mymaster", False, True, 3, 2, True)]),
        "critical",
        healthy(sentinel_masters=[SentinelMaster("mymaster", False, False, 3, 2, True)]),
    ),
    (
        "RedisSentinelQuorumAtRisk",
        healthy(sentinel_masters=[SentinelMaster("mymaster", True, False, 2, 2, True)]),
        "medium",
        healthy(sentinel_masters=[SentinelMaster("mymaster", True, False, 3, 2, True)]),
    ),
    (
        "RedisSentinelQuorumLost",
        healthy(sentinel_masters=[SentinelMaster("mymaster", True, False, 3, 2, False)]),
        "critical",
        healthy(sentinel_masters=[SentinelMaster("mymaster", True, False, 3, 2, True)]),
    ),
    ("RedisSentinelTilt", healthy(tilt=True), "medium", healthy(tilt=False)),
    (
        "RedisSearchIndexingFailures",
        healthy(search_indexes=[index(failures=(2, 5))]),
        "medium",
        healthy(search_indexes=[index(failures=(0, 0))]),
    ),
    (
        "RedisSearchIndexingStuck",
        healthy(search_indexes=[index(percent_indexed=0.9)]),
        "medium",
        healthy(search_indexes=[index(percent_indexed=1.0)]),
    ),
    (  # 51 of 100 MiB in indexes
        "RedisSearchIndexMemoryHigh",
        healthy(search_indexes=[index(memory_bytes=51 * MIB)]),
        "medium",
        healthy(search_indexes=[index(memory_bytes=50 * MIB)]),
    ),
    ("CachescopeScrapeSlow", healthy(duration=1.5), "medium", healthy(duration=1.0)),
]

MC = "memcached"
MEMCACHED_CASES: list[tuple[str, Figures, str, Figures]] = [
    (
        "MemcachedHitRatioLow",
        healthy(MC, hits_per_second=70.0, misses_per_second=30.0),
        "medium",
        healthy(MC, hits_per_second=70.0, misses_per_second=30.0, uptime=60),
    ),
    (
        "MemcachedEvictionsHigh",
        healthy(MC, evictions_per_second=1.0, hits_per_second=5.0, misses_per_second=5.0),
        "medium",
        healthy(MC, evictions_per_second=1.0, hits_per_second=9.0, misses_per_second=1.0),
    ),
    (
        "MemcachedItemsEvictedEarly",
        healthy(MC, used=100 * MIB, evictions_per_second=1.0, evicted_early=20.0),
        "medium",
        healthy(MC, used=100 * MIB, evictions_per_second=1.0, evicted_early=600.0),
    ),
    (  # full and evicting with a good hit ratio: an LRU cache at work
        "MemcachedItemsEvictedEarly",
        healthy(MC, evicted_early=5.0),
        "medium",
        healthy(MC, used=100 * MIB, evictions_per_second=50.0),
    ),
    (
        "MemcachedConnectionsNearLimit",
        healthy(MC, clients=960, maxclients=1000),
        "critical",
        healthy(MC, clients=800, maxclients=1000),
    ),
    (
        "MemcachedListenerDisabled",
        healthy(MC, events={"listener_disabled": (1, 4)}),
        "critical",
        healthy(MC, events={"listener_disabled": (0, 0)}),
    ),
    (
        "MemcachedConnectionsRejected",
        healthy(MC, events={"rejected": (0, 4)}),
        "high",  # only before the sample: one priority lower
        healthy(MC),
    ),
    (
        "MemcachedSlabOutOfMemory",
        healthy(MC, events={"slab_outofmemory": (2, 2)}),
        "medium",
        healthy(MC),
    ),
    ("CachescopeScrapeSlow", healthy(MC, duration=2.0), "medium", healthy(MC, duration=0.5)),
]


@pytest.mark.parametrize(
    "alert,firing,priority,quiet",
    CASES + MEMCACHED_CASES,
    ids=[f"{case[0]}-{i}" for i, case in enumerate(CASES + MEMCACHED_CASES)],
)
def test_finding_fires_at_its_threshold_and_is_silent_below(
    alert: str, firing: Figures, priority: str, quiet: Figures
) -> None:
    assert fired(firing).get(alert) == priority
    assert fired(quiet).get(alert) not in PRIORITIES[: PRIORITIES.index(priority) + 1]


def test_every_check_has_a_firing_case() -> None:
    covered = {case[0] for case in CASES + MEMCACHED_CASES}
    assert (set(REDIS) | set(MEMCACHED)) <= covered | {"RedisOutOfMemoryErrors"}


def test_findings_come_most_urgent_first_with_category_and_runbook_action() -> None:
    figures = healthy(policy="noeviction", used=99 * MIB, uptime=60, blocked=60)
    findings = evaluate(figures, DEFAULTS)
    assert [f.priority for f in findings] == ["critical", "low", "low"]
    memory = next(f for f in findings if f.alert == "RedisMemoryNearLimit")
    assert memory.category == "memory"
    assert memory.action.startswith("writes will fail with OOM: for a cache set maxmemory-policy")


def test_runbook_actions_named_in_the_issue() -> None:
    actions = {f.alert: f.action for f in evaluate(_everything_wrong(), DEFAULTS)}
    assert actions["RedisKeysWithoutTtl"].startswith("set TTLs on cache keys")
    assert "connection pooling" in actions["RedisConnectionChurnHigh"]
    assert "enable activedefrag" in actions["RedisFragmentationHigh"]


def _everything_wrong() -> Figures:
    return healthy(
        keys=5000,
        keys_expiring=0,
        connections_per_second=100.0,
        fragmentation=2.0,
        used=500 * MIB,
        maxmemory=0,
    )


def test_override_file_moves_thresholds_and_disables_alerts(tmp_path: Path) -> None:
    override = tmp_path / "mine.yml"
    override.write_text(
        "alerts:\n"
        "  RedisHitRatioLow: {threshold: 0.99}\n"
        "  RedisRestarted: {enabled: false}\n"
        "  RedisMemoryNearLimit: {warning: {threshold: 0.4}}\n"
    )
    limits = thresholds.load(override)
    figures = healthy(uptime=60 * 60, policy="noeviction")
    assert fired(figures) == {}
    assert fired(figures, limits) == {"RedisHitRatioLow": "medium", "RedisMemoryNearLimit": "high"}
    assert "RedisRestarted" not in fired(healthy(uptime=5), limits)


def test_unreachable_target_is_down_or_loading() -> None:
    [down] = unreachable("redis", "connect", "Connection refused", DEFAULTS)
    assert (down.alert, down.priority, down.category) == ("RedisDown", "critical", "availability")
    [loading] = unreachable("redis", "loading", "LOADING", DEFAULTS)
    assert (loading.alert, loading.priority) == ("RedisLoading", "medium")
    [memcached] = unreachable("memcached", "timeout", "no reply", DEFAULTS)
    assert memcached.alert == "MemcachedDown"


def test_memory_is_shown_in_redis_units() -> None:
    assert human_bytes(2 * MIB) == "2MB"
    assert human_bytes(3.2 * GIB) == "3.2GB"
    assert human_bytes(512) == "512B"
    assert human_bytes(None) is None


# --- real servers --------------------------------------------------------------------------


def analyze(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["analyze", "--interval", "1s", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def analyze_json(*args: str) -> tuple[int, Any]:
    code, text = analyze("--format", "json", *args)
    data = json.loads(text)
    jsonschema.validate(data, SCHEMA)
    return code, data


def by_alert(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The alerts' findings by alert name (the configuration audit's have a `check` instead)."""
    return {rec["alert"]: rec for rec in report["recommendations"] if "alert" in rec}


def fill_until_oom(client: redis.Redis) -> int:
    written = 0
    with pytest.raises(redis.exceptions.ResponseError, match="maxmemory"):
        while True:
            client.set(f"key:{written}", "x" * 1000)
            written += 1
    return written


@contextmanager
def background(work: Any) -> Iterator[None]:
    """Run `work()` in a loop on a thread while the block runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            work()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def test_noeviction_redis_filled_to_its_limit_is_critical_and_exits_2(start_redis: Any) -> None:
    server: RedisServer = start_redis("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
    client = server.client()
    assert fill_until_oom(client) > 100
    writer = server.client()

    def write() -> None:
        with suppress(redis.exceptions.ResponseError):
            writer.set("one-more", "x" * 1000)

    with background(write):
        code, report = analyze_json(server.uri)
    assert code == 2
    assert report["status"] == "success"
    found = by_alert(report)
    assert found["RedisMemoryNearLimit"]["priority"] == "critical"
    assert found["RedisMemoryNearLimit"]["action"].startswith("writes will fail with OOM")
    assert found["RedisOutOfMemoryErrors"]["priority"] == "critical"  # failed during the sample
    memory = report["metrics"]["memoryUsage"]
    assert memory["maxmemory"] == "2MB" and memory["policy"] == "noeviction"
    assert memory["utilizationPercent"] >= 95


def test_full_lru_cache_under_cache_aside_load_is_healthy_and_exits_0(start_redis: Any) -> None:
    server: RedisServer = start_redis("--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")
    client = server.client()
    value = "v" * 1000
    pipe = client.pipeline(transaction=False)
    for i in range(12000):  # ~12 MB of keys with a TTL into 4 MB: full, and evicting
        pipe.set(f"item:{i}", value, ex=3600)
    pipe.execute()
    assert client.info("stats")["evicted_keys"] > 0
    reader = server.client()
    counter = iter(range(10**9))

    def cache_aside() -> None:
        """Read-through: 19 reads of hot keys, 1 of a cold one; a miss loads and SETEXes."""
        n = next(counter)
        key = f"cold:{n}" if n % 20 == 0 else f"hot:{n % 200}"
        if reader.get(key) is None:
            reader.set(key, value, ex=3600)

    evicted_before = client.info("stats")["evicted_keys"]
    with background(cache_aside):
        code, report = analyze_json(server.uri)
    stats = client.info("stats")
    assert stats["evicted_keys"] > evicted_before  # it evicted during the sample
    assert stats["keyspace_hits"] / (stats["keyspace_hits"] + stats["keyspace_misses"]) > 0.8
    assert report["metrics"]["memoryUsage"]["utilizationPercent"] >= 90
    urgent = [r for r in report["recommendations"] if r["priority"] in ("critical", "high")]
    assert (code, urgent) == (0, [])


def test_noeviction_oom_before_the_sample_is_high(start_redis: Any) -> None:
    server: RedisServer = start_redis("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
    fill_until_oom(server.client())
    code, report = analyze_json(server.uri)
    assert by_alert(report)["RedisOutOfMemoryErrors"]["priority"] == "high"
    assert code == 2  # the memory near the limit under noeviction is critical on its own


def test_first_oom_is_counted_from_the_exporters_zero(start_redis: Any) -> None:
    server: RedisServer = start_redis("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
    client = server.client()
    target = target_from_uri(server.uri, Credentials(timeout=5.0))
    before = sample(target, 0.0).second
    assert before.value("redis_errors_total", err="OOM") == 0  # not listed by Redis yet
    assert before.value("redis_errors_total", err="BUSY") == 0
    assert "errorstat_OOM" not in client.info("errorstats")
    fill_until_oom(client)  # exactly one OOM reply
    after = sample(target, 0.0).second
    assert after.value("redis_errors_total", err="OOM") == 1


def test_cache_with_keys_without_ttl_gets_the_ttl_finding(start_redis: Any) -> None:
    server: RedisServer = start_redis("--maxmemory-policy", "allkeys-lru")
    client = server.client()
    client.mset({f"user:{i}:profile": "x" for i in range(2000)})
    client.set("session:1", "x", ex=3600)
    code, report = analyze_json(server.uri)
    assert code == 0
    assert report["metrics"]["keys"] == {
        "total": 2001,
        "withoutTtl": 2000,
        "withoutTtlPercent": 100.0,
    }
    ttl = by_alert(report)["RedisKeysWithoutTtl"]
    assert (ttl["priority"], ttl["category"]) == ("medium", "keys")
    assert ttl["action"].startswith("set TTLs on cache keys")


def test_healthy_redis_gives_no_finding(start_redis: Any, tmp_path: Path) -> None:
    redis_server: RedisServer = start_redis(
        "--maxmemory", "100mb", "--maxmemory-policy", "allkeys-lru",
        # The practice's setting (Redis ships 0, which the audit's latency-monitor-off finds).
        "--latency-monitor-threshold", "100",
    )  # fmt: skip
    override = tmp_path / "thresholds.yml"
    override.write_text("alerts: {RedisRestarted: {enabled: false}}\n")  # it just started
    client = redis_server.client()
    client.set("hot", "x", ex=3600)
    reader = redis_server.client()
    with background(lambda: reader.get("hot")):
        code, report = analyze_json("--thresholds", str(override), redis_server.uri)
    assert (code, report["recommendations"]) == (0, [])
    metrics = report["metrics"]
    assert metrics["hitRate"] == 100.0 and metrics["missRate"] == 0.0
    assert metrics["opsPerSecond"] > 10
    assert metrics["connections"]["maxClients"] == 10000


def test_fresh_redis_reports_its_restart_with_low_priority(redis_server: RedisServer) -> None:
    code, report = analyze_json(redis_server.uri)
    assert code == 0
    assert by_alert(report)["RedisRestarted"]["priority"] == "low"


def memcached_command(port: int, payload: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        sock.recv(65536)


def test_evicting_memcached_gets_the_eviction_finding() -> None:
    server = MemcachedServer("-m", "2")
    try:
        value = b"x" * 20000
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        counter = iter(range(10**9))

        def churn() -> None:  # new items push old ones out; gets of old ones miss
            n = next(counter)
            sock.sendall(b"set item:%d 0 0 %d noreply\r\n%s\r\n" % (n, len(value), value))
            sock.sendall(b"get item:%d\r\nget missing:%d\r\n" % (max(n - 500, 0), n))
            sock.recv(65536)

        for _ in range(400):
            churn()
        with background(churn):
            code, report = analyze_json(server.uri)
        sock.close()
    finally:
        server.stop()
    assert code == 0  # evictions are a warning, not an outage
    metrics = report["metrics"]
    assert metrics["evictionRate"] > 0 and metrics["hitRate"] < 80
    assert metrics["memoryUsage"]["maxmemory"] == "2MB"
    found = by_alert(report)
    assert found["MemcachedEvictionsHigh"]["priority"] == "medium"
    assert found["MemcachedEvictionsHigh"]["category"] == "efficiency"


def test_unreachable_target_is_an_error_report_and_exits_3() -> None:
    uri = f"redis://:hunter2@127.0.0.1:{free_port()}"
    code, report = analyze_json(uri)
    assert code == 3
    assert report["status"] == "error" and report["metrics"] == {}
    assert report["error"].startswith("connect:")
    assert report["target"] == uri.replace(":hunter2@", "")
    assert by_alert(report)["RedisDown"]["priority"] == "critical"
    code, text = analyze(uri)
    assert code == 3 and "hunter2" not in text and "Traceback" not in text


def test_several_targets_give_a_list_and_table_lists_findings(
    start_redis: Any, memcached_server: MemcachedServer
) -> None:
    server: RedisServer = start_redis("--maxmemory-policy", "allkeys-lru")
    server.client().mset({f"k:{i}": "x" for i in range(1500)})
    code, reports = analyze_json(server.uri, memcached_server.uri)
    assert code == 0 and [r["target"] for r in reports] == [server.uri, memcached_server.uri]
    assert reports[1]["metrics"]["replication"] is None
    code, text = analyze(server.uri)
    assert "RedisKeysWithoutTtl" in text and "-> set TTLs on cache keys" in text
    assert "\x1b[" not in text  # no colour when stdout is not a terminal
    assert text.splitlines()[0] == f"{server.uri}  success"


def test_config_names_resolve_to_their_target(redis_server: RedisServer, tmp_path: Path) -> None:
    config = tmp_path / "cachescope.yml"
    config.write_text(f"targets:\n  - uri: {redis_server.uri}\n    name: cache-a\n")
    code, report = analyze_json("--config", str(config), "cache-a")
    assert report["status"] == "success" and report["target"] == redis_server.uri


@pytest.mark.parametrize(
    "args",
    [["--interval", "soon", "redis://127.0.0.1:1"], ["--format", "xml", "redis://127.0.0.1:1"], []],
)
def test_bad_invocations_exit_1_not_2(args: list[str]) -> None:
    result = CliRunner().invoke(main, ["analyze", *args])
    assert result.exit_code == 1, result.output


def test_bad_thresholds_file_is_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("alerts:\n  RedisHitRatioLow: {threshold: high}\n")
    result = CliRunner().invoke(main, ["analyze", "--thresholds", str(bad), "redis://x:1"])
    assert result.exit_code == 1
    assert "bad.yml:2" in result.output and "RedisHitRatioLow" in result.output


def test_full_memcached_dropping_never_read_items_has_no_early_eviction_finding() -> None:
    server = MemcachedServer("-m", "2")
    try:
        client = MemcacheClient(("127.0.0.1", server.port), timeout=2, no_delay=True)
        for i in range(4000):  # ~4 MB of 1 KB items into 2 MB: full, evicting the oldest
            client.set(f"tail:{i}", b"v" * 1000, expire=3600)
        counter = iter(range(4000, 10**9))

        def one_off_writes() -> None:
            """A long tail of keys set once and never read again."""
            client.set(f"tail:{next(counter)}", b"v" * 1000, expire=3600)

        with background(one_off_writes):
            code, report = analyze_json(server.uri)
        assert int(client.stats()[b"evictions"]) > 4000 - 2000  # it evicted, all of it unread
        assert "MemcachedItemsEvictedEarly" not in by_alert(report)
        assert code == 0
    finally:
        server.stop()


def test_memcached_evicting_items_still_being_read_gets_the_early_eviction_finding() -> None:
    server = MemcachedServer("-m", "2")
    try:
        client = MemcacheClient(("127.0.0.1", server.port), timeout=2, no_delay=True)
        counter = iter(range(10**9))

        def working_set_too_big() -> None:
            """Read-through over 4,000 keys in turn: each is read, then pushed out in use."""
            key = f"page:{next(counter) % 4000}"
            client.get(key)
            client.set(key, b"v" * 1000, expire=3600)
            client.get(key)

        for _ in range(8000):
            working_set_too_big()
        with background(working_set_too_big):
            _, report = analyze_json(server.uri)
        assert by_alert(report)["MemcachedItemsEvictedEarly"]["priority"] == "medium"
    finally:
        server.stop()
