"""The audit's memory, persistence, connection and latency checks on real redis-server processes.

One server is shared by the module: each case starts from the well-configured baseline
(`BASELINE`, applied with CONFIG SET, the keyspace flushed), sets the one setting it
misconfigures, and expects that check's finding with its evidence and a fix that, once
applied, clears it.
"""

from __future__ import annotations

import shlex
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import redis
from cachescope.alerts.audits import ALL, BY_NAME, connections, eviction, latency, persistence
from cachescope.alerts.audits.model import Settings
from cachescope.analyze.audit import audit, evaluate
from cachescope.analyze.figures import Figures, redis_figures
from cachescope.analyze.sampling import sample
from cachescope.config.credentials import Credentials
from cachescope.config.records import target_from_uri
from cachescope.rules import thresholds
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import RedisServer, wait_for
from test_analyze import analyze_json

MINE = {
    audit_def.name
    for module in (eviction, persistence, connections, latency)
    for audit_def in module.AUDITS
}
# The practice's configuration of a cache (the issue's "configured well").
BASELINE = {
    "maxmemory": "64mb",
    "maxmemory-policy": "allkeys-lru",
    "save": "",
    "appendonly": "no",
    "appendfsync": "everysec",
    "timeout": "300",
    "tcp-keepalive": "300",
    "lazyfree-lazy-eviction": "yes",
    "lazyfree-lazy-expire": "yes",
    "lazyfree-lazy-user-del": "yes",
    "slowlog-log-slower-than": "10000",
    "slowlog-max-len": "128",
    "latency-monitor-threshold": "100",
}
MIB = 2**20


@pytest.fixture(scope="module")
def shared() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def server(shared: RedisServer) -> Iterator[RedisServer]:
    """The shared server, configured well and empty."""
    client = shared.client()
    client.flushall()
    for name, value in BASELINE.items():
        client.config_set(name, value)
    wait_for(lambda: client.info("persistence")["aof_rewrite_in_progress"] == 0)
    yield shared
    client.close()


def found_by(server: RedisServer, interval: float = 0.0) -> dict[str, dict[str, Any]]:
    """My checks' findings on the server, by check name, from a fresh sample."""
    target = target_from_uri(server.uri, Credentials(timeout=5.0))
    figures = redis_figures(sample(target, interval))
    recommendations, summary = audit(target, figures)
    assert set(summary["checked"]) >= MINE, summary["notRun"]
    return {rec["check"]: rec for rec in recommendations if rec["check"] in MINE}


def apply_fix(server: RedisServer, fix: str) -> None:
    """Run a finding's `CONFIG SET ...` fix: one command, or several joined by `; ` for
    servers before 7.0 (a trailing `# comment` is advice, not the fix)."""
    for command in fix.split("; "):
        words = shlex.split(command, comments=True)
        assert words[:2] == ["CONFIG", "SET"], fix
        server.client().execute_command(*words)


def fill(client: redis.Redis, keys: int, ttl: int | None, prefix: str = "k") -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(keys):
        pipe.set(f"{prefix}:{i}", "v" * 100, ex=ttl)
    pipe.execute()


# --- eviction and memory -------------------------------------------------------------------


@pytest.mark.live
def test_noeviction_with_keys_that_mostly_expire_is_a_cache_that_fails_writes(
    server: RedisServer,
) -> None:
    client = server.client()
    client.config_set("maxmemory-policy", "noeviction")
    fill(client, 300, ttl=3600)
    fill(client, 50, ttl=None, prefix="kept")
    rec = found_by(server)["noeviction-with-ttls"]
    assert rec["priority"] == "medium"
    assert rec["evidence"]["maxmemory-policy"] == "noeviction"
    assert (rec["evidence"]["keys"], rec["evidence"]["keys_with_ttl"]) == (350, 300)
    assert "OOM" in rec["issue"] and "85.7%" in rec["issue"]
    # Some keys have no TTL: the fix keeps them and evicts only those that expire anyway.
    assert rec["fix"].startswith("CONFIG SET maxmemory-policy volatile-lru")
    apply_fix(server, rec["fix"])
    assert "noeviction-with-ttls" not in found_by(server)


@pytest.mark.live
def test_noeviction_near_full_with_expiring_keys_is_high(server: RedisServer) -> None:
    client = server.client()
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", str(int(client.info("memory")["used_memory"]) + 2 * MIB))
    with pytest.raises(redis.exceptions.ResponseError, match="maxmemory"):
        fill(client, 100_000, ttl=3600)
    rec = found_by(server)["noeviction-with-ttls"]
    assert rec["priority"] == "high" and rec["evidence"]["memory_used_percent"] >= 90
    assert rec["fix"].startswith("CONFIG SET maxmemory-policy allkeys-lru")  # every key expires


@pytest.mark.live
def test_noeviction_on_a_store_whose_keys_never_expire_is_no_finding(
    server: RedisServer,
) -> None:
    client = server.client()
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("save", "3600 1")  # a store that persists: nothing to say
    fill(client, 300, ttl=None)
    assert found_by(server) == {}


@pytest.mark.live
def test_maxmemory_above_what_the_host_holds_with_buffers_and_fragmentation(
    server: RedisServer,
) -> None:
    client = server.client()
    system = int(client.info("memory")["total_system_memory"])
    client.config_set("maxmemory", str(system))
    rec = found_by(server)["maxmemory-above-host"]
    evidence = rec["evidence"]
    assert rec["priority"] == "medium"  # RSS is nowhere near the host's memory yet
    assert evidence["maxmemory"] == system and evidence["total_system_memory"] == system
    assert evidence["needed_at_full"] > system
    assert evidence["repl-backlog-size"] == int(
        client.config_get("repl-backlog-size")["repl-backlog-size"]
    )
    assert "container" in str(evidence["note"])
    apply_fix(server, rec["fix"])
    assert "maxmemory-above-host" not in found_by(server)
    assert 0 < int(client.config_get("maxmemory")["maxmemory"]) < system


# --- persistence ---------------------------------------------------------------------------


@pytest.mark.live
def test_rdb_save_rules_on_an_lru_cache_show_the_fork_time(server: RedisServer) -> None:
    client = server.client()
    client.config_set("save", "3600 1 300 100")
    fill(client, 200, ttl=None)
    client.bgsave()
    wait_for(lambda: client.info("persistence")["rdb_bgsave_in_progress"] == 0)
    rec = found_by(server)["rdb-save-on-cache"]
    assert rec["evidence"]["save"] == "3600 1 300 100"
    assert rec["evidence"]["maxmemory-policy"] == "allkeys-lru"
    assert rec["evidence"]["latest_fork_usec"] == client.info("stats")["latest_fork_usec"]
    assert int(rec["evidence"]["latest_fork_usec"]) > 0
    assert rec["fix"] == 'CONFIG SET save ""'
    apply_fix(server, rec["fix"])
    assert "rdb-save-on-cache" not in found_by(server)


@pytest.mark.live
def test_appendfsync_always_on_a_cache_of_expiring_keys(server: RedisServer) -> None:
    client = server.client()
    client.config_set("maxmemory-policy", "volatile-lru")  # a cache by its TTLs, not its policy
    client.config_set("appendonly", "yes")
    client.config_set("appendfsync", "always")
    fill(client, 200, ttl=600)
    rec = found_by(server)["aof-always-on-cache"]
    assert rec["priority"] == "medium"
    assert rec["evidence"]["appendfsync"] == "always" and rec["evidence"]["keys_with_ttl"] == 200
    assert "latest_fork_usec" in rec["evidence"]
    apply_fix(server, rec["fix"])
    assert "aof-always-on-cache" not in found_by(server)


@pytest.mark.live
def test_store_without_any_persistence_loses_its_keys_on_restart(server: RedisServer) -> None:
    client = server.client()
    client.config_set("maxmemory-policy", "noeviction")
    fill(client, 300, ttl=None)
    rec = found_by(server)["store-without-persistence"]
    assert rec["evidence"]["save"] == "" and rec["evidence"]["appendonly"] == "no"
    assert rec["evidence"]["keys_without_ttl"] == 300
    assert rec["fix"].startswith("CONFIG SET appendonly yes")
    apply_fix(server, rec["fix"])
    assert "store-without-persistence" not in found_by(server)


# --- connections ---------------------------------------------------------------------------


@pytest.mark.live
def test_timeout_0_with_many_idle_clients(server: RedisServer) -> None:
    client = server.client()
    client.config_set("timeout", "0")
    with ExitStack() as stack:
        for _ in range(connections.MANY_CLIENTS + 20):  # connected, and never a command
            stack.enter_context(socket.create_connection(("127.0.0.1", server.port)))
        wait_for(lambda: client.info("clients")["connected_clients"] > connections.MANY_CLIENTS)
        rec = found_by(server, interval=0.5)["idle-clients-without-timeout"]
        assert rec["evidence"]["timeout"] == "0"
        assert rec["evidence"]["connected_clients"] > connections.MANY_CLIENTS
        assert rec["evidence"]["commands_per_second_per_client"] < 1
        apply_fix(server, rec["fix"])
        assert client.config_get("timeout") == {"timeout": "300"}
        assert "idle-clients-without-timeout" not in found_by(server, interval=0.5)


@pytest.mark.live
def test_timeout_0_with_few_clients_is_no_finding(server: RedisServer) -> None:
    server.client().config_set("timeout", "0")
    assert "idle-clients-without-timeout" not in found_by(server, interval=0.5)


@pytest.mark.live
def test_tcp_keepalive_0_never_notices_dead_peers(server: RedisServer) -> None:
    server.client().config_set("tcp-keepalive", "0")
    rec = found_by(server)["tcp-keepalive-off"]
    assert rec["priority"] == "low" and rec["evidence"]["tcp-keepalive"] == "0"
    apply_fix(server, rec["fix"])
    assert found_by(server) == {}


# --- latency -------------------------------------------------------------------------------


def big_list(client: redis.Redis) -> int:
    """A list above the big-key threshold, of many allocations (freeing it takes a while)."""
    element = "x" * 10_000
    count = latency.BIG_KEY_BYTES // len(element) + 100
    client.rpush("feed:big", *[element] * count)
    return int(client.memory_usage("feed:big", samples=0) or 0)


@pytest.mark.live
def test_lazyfree_off_with_a_big_key_frees_it_on_the_event_loop(server: RedisServer) -> None:
    client = server.client()
    for name in ("lazyfree-lazy-eviction", "lazyfree-lazy-user-del"):
        client.config_set(name, "no")
    size = big_list(client)
    assert size >= latency.BIG_KEY_BYTES
    rec = found_by(server)["lazyfree-off-with-big-keys"]
    assert rec["evidence"]["biggest_sampled_key_bytes"] == size
    assert rec["evidence"]["lazyfree-lazy-eviction"] == "no"
    assert rec["evidence"]["lazyfree-lazy-expire"] == "yes"
    assert "lazyfree-lazy-expire" not in rec["fix"]  # only what is off
    apply_fix(server, rec["fix"])
    assert found_by(server) == {}


@pytest.mark.live
def test_lazyfree_off_with_only_small_keys_is_no_finding(server: RedisServer) -> None:
    client = server.client()
    client.config_set("lazyfree-lazy-user-del", "no")
    fill(client, 100, ttl=3600)
    assert found_by(server) == {}


def test_big_key_threshold_is_the_redis_big_keys_alerts() -> None:
    assert thresholds.load()["alerts"]["RedisBigKeys"]["threshold"] == latency.BIG_KEY_BYTES


@pytest.mark.live
@pytest.mark.parametrize(
    ("name", "value", "check"),
    [
        ("slowlog-log-slower-than", "-1", "slowlog-disabled"),
        ("slowlog-max-len", "0", "slowlog-disabled"),
        ("latency-monitor-threshold", "0", "latency-monitor-off"),
    ],
)
@pytest.mark.live
def test_latency_instruments_turned_off(
    server: RedisServer, name: str, value: str, check: str
) -> None:
    server.client().config_set(name, value)
    rec = found_by(server)[check]
    assert rec["priority"] == "low" and rec["evidence"][name] == value
    apply_fix(server, rec["fix"])
    assert found_by(server) == {}


# --- the report ----------------------------------------------------------------------------


@pytest.mark.live
def test_well_configured_cache_has_no_finding_and_exits_0(server: RedisServer) -> None:
    fill(server.client(), 500, ttl=3600)
    code, report = analyze_json(server.uri)
    assert code == 0
    assert set(report["audit"]["checked"]) >= MINE
    assert [r for r in report["recommendations"] if r.get("check") in MINE] == []


@pytest.mark.live
def test_misconfigured_cache_report_validates_and_keeps_the_exit_rules(
    server: RedisServer,
) -> None:
    client = server.client()
    for name, value in {
        "save": "900 1",
        "tcp-keepalive": "0",
        "slowlog-log-slower-than": "-1",
        "latency-monitor-threshold": "0",
    }.items():
        client.config_set(name, value)
    fill(client, 500, ttl=3600)
    code, report = analyze_json(server.uri)  # validated against the schema
    mine = {r["check"]: r for r in report["recommendations"] if r.get("check") in MINE}
    assert set(mine) == {
        "rdb-save-on-cache",
        "tcp-keepalive-off",
        "slowlog-disabled",
        "latency-monitor-off",
    }
    assert all(r["category"] and r["action"] and r["fix"] for r in mine.values())
    assert code == 0  # audit findings are low/medium here: nothing critical


# Misconfigurations CONFIG SET can make at once, and the checks each trips (a cache of
# expiring keys holding one big list).
MISCONFIGURED = {
    "save": ("900 1", "rdb-save-on-cache"),
    "appendonly": ("yes", "aof-always-on-cache"),
    "appendfsync": ("always", "aof-always-on-cache"),
    "tcp-keepalive": ("0", "tcp-keepalive-off"),
    "lazyfree-lazy-expire": ("no", "lazyfree-off-with-big-keys"),
    "lazyfree-lazy-user-del": ("no", "lazyfree-off-with-big-keys"),
    "slowlog-log-slower-than": ("-1", "slowlog-disabled"),
    "latency-monitor-threshold": ("0", "latency-monitor-off"),
}


@pytest.mark.live
def test_every_server_of_the_matrix_runs_the_checks_and_their_fixes_clear_them(
    any_redis: Any,
) -> None:
    """Redis 6.2 (CONFIG GET one name at a time, CONFIG SET one name), 7.0 and Valkey 8.1."""
    flags = [word for name, value in BASELINE.items() for word in (f"--{name}", value)]
    server: RedisServer = any_redis(*flags)
    client = server.client()
    # Few keys, so that the 32 RANDOMKEY draws of the settings read find the big one.
    fill(client, 3, ttl=3600)
    assert found_by(server) == {}  # configured well: nothing
    for name, (value, _) in MISCONFIGURED.items():
        client.config_set(name, value)
    big_list(client)
    found = found_by(server)
    assert set(found) == {check for _, check in MISCONFIGURED.values()}
    for rec in found.values():
        apply_fix(server, rec["fix"])
    assert found_by(server) == {}


# --- properties ----------------------------------------------------------------------------

GIB = 2**30
# Redis 7's default limits, as CONFIG GET shows them.
BUFFER_LIMITS = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"


@given(
    keys=st.integers(0, 10**7),
    ttl_share=st.floats(0, 1),
    clients=st.integers(0, 10_000),
    ops=st.floats(0, 10**6),
    big=st.lists(st.integers(0, 10**9), max_size=32),
    fragmentation=st.floats(0.5, 1.5),
)
@settings(max_examples=200, deadline=None)
def test_well_configured_settings_yield_nothing_whatever_the_figures(
    keys: int, ttl_share: float, clients: int, ops: float, big: list[int], fragmentation: float
) -> None:
    config = dict(
        BASELINE,
        maxmemory=str(16 * GIB),
        **{"repl-backlog-size": str(MIB), "client-output-buffer-limit": BUFFER_LIMITS},
    )
    info = {"total_system_memory": str(64 * GIB), "latest_fork_usec": "0"}
    state = Settings("redis", config, info, big_keys=tuple(sorted(big, reverse=True)))
    figures = Figures(
        "redis",
        keys=float(keys),
        keys_expiring=float(int(keys * ttl_share)),
        clients=float(clients),
        ops_per_second=ops,
        used=float(8 * GIB),
        rss=float(8 * GIB) * fragmentation,
        maxmemory=float(16 * GIB),
        system_memory=float(64 * GIB),
        fragmentation=fragmentation,
    )
    found, summary = evaluate(state, figures)
    assert [r for r in found if r["check"] in MINE] == []
    assert set(summary["checked"]) >= MINE


def test_every_check_of_mine_is_registered_once() -> None:
    assert len(ALL) == len(BY_NAME)  # no name twice
    assert set(BY_NAME) >= MINE
    assert {BY_NAME[name].category for name in MINE} <= {
        "memory",
        "persistence",
        "connections",
        "latency",
    }


def check(name: str, config: dict[str, str], info: dict[str, str], figures: Figures) -> Any:
    state = Settings("redis", dict(BASELINE, **config), info)
    return BY_NAME[name].check(state, figures)


def test_maxmemory_counts_observed_fragmentation_and_each_replicas_buffer() -> None:
    config = {"maxmemory": str(40 * GIB), "repl-backlog-size": str(GIB)}
    config["client-output-buffer-limit"] = BUFFER_LIMITS
    info = {"total_system_memory": str(64 * GIB), "connected_slaves": "2"}
    # 40 GiB x 1.3 + 1 GiB + 2 x 256 MiB = 53.5 GiB: below 90% of 64 GiB (57.6 GiB).
    figures = Figures("redis", used=float(20 * GIB), rss=float(26 * GIB), fragmentation=1.3)
    assert check("maxmemory-above-host", config, info, figures) is None
    figures.fragmentation = 1.45  # 58 GiB + 1.5 GiB: over
    issue = check("maxmemory-above-host", config, info, figures)
    assert issue.priority == "medium"
    assert issue.evidence["client_buffers_counted"] == 2 * 268435456
    assert issue.evidence["fragmentation_counted"] == 1.45
    figures.rss = float(60 * GIB)  # the OOM killer is near
    assert check("maxmemory-above-host", config, info, figures).priority == "high"


def test_idle_clients_near_maxclients_is_high() -> None:
    figures = Figures("redis", clients=900.0, maxclients=1000.0, ops_per_second=50.0)
    issue = check("idle-clients-without-timeout", {"timeout": "0"}, {}, figures)
    assert issue.priority == "high" and issue.evidence["commands_per_second_per_client"] < 1
    figures.ops_per_second = 5000.0  # busy connections, not idle ones
    assert check("idle-clients-without-timeout", {"timeout": "0"}, {}, figures) is None


def test_noeviction_without_maxmemory_is_left_to_maxmemory_unset() -> None:
    figures = Figures("redis", keys=100.0, keys_expiring=100.0)
    config = {"maxmemory": "0", "maxmemory-policy": "noeviction"}
    assert check("noeviction-with-ttls", config, {}, figures) is None


def test_lazyfree_fix_is_one_command_per_name_before_redis_7() -> None:
    config = {"lazyfree-lazy-eviction": "no", "lazyfree-lazy-expire": "no"}
    state = Settings(
        "redis", dict(BASELINE, **config), {"redis_version": "6.2.14"}, big_keys=(BIG := 11 * MIB,)
    )
    issue = BY_NAME["lazyfree-off-with-big-keys"].check(state, Figures("redis"))
    assert issue.fix == (
        "CONFIG SET lazyfree-lazy-eviction yes; CONFIG SET lazyfree-lazy-expire yes"
    )
    assert issue.evidence["biggest_sampled_key_bytes"] == BIG
