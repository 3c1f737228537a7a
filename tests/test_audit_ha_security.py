"""The audit's replication, HA, security and Memcached checks, each on a real server.

Every check has a server configured to trip it and one configured as the practice
says, which yields no finding of that check. Reports come from `cachescope analyze
--format json` and are validated against the schema.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from cachescope.alerts.audits import needs
from cachescope.alerts.audits.replication import replica_limits, seconds_covered
from cachescope.alerts.audits.security import DANGEROUS, loopback_only
from cachescope.alerts.audits.topology import survives_one_loss
from cachescope.analyze.settings import read_settings
from cachescope.cli import main
from cachescope.config.records import target_from_uri
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from servers import ROOT, MemcachedServer, RedisServer, wait_for, wait_for_link_up
from topology_servers import Cluster, Sentinel

SCHEMA = json.loads((ROOT / "docs/analyze-report.schema.json").read_text())
MIB = 1024**2


def audit_report(uri: str) -> tuple[int, dict[str, Any]]:
    """Exit code and JSON report of `cachescope analyze` on one target."""
    result = CliRunner().invoke(main, ["analyze", "--interval", "1s", "--format", "json", uri])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    data = json.loads(result.output)
    jsonschema.validate(data, SCHEMA)
    return result.exit_code, data


def findings(uri: str) -> dict[str, dict[str, Any]]:
    """The audit's findings on one target, by check name."""
    _, report = audit_report(uri)
    return {rec["check"]: rec for rec in report["recommendations"] if "check" in rec}


def checked(uri: str) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The findings and the names of the checks that ran."""
    _, report = audit_report(uri)
    found = {rec["check"]: rec for rec in report["recommendations"] if "check" in rec}
    return found, report["audit"]["checked"]


# --- replication ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[RedisServer, RedisServer]]:
    """A quiet primary with one synced replica, shared by the cases that CONFIG SET."""
    primary = RedisServer("--repl-diskless-sync-delay", "0")
    replica = RedisServer("--replicaof", "127.0.0.1", str(primary.port))
    wait_for_link_up(replica)
    yield primary, replica
    replica.stop()
    primary.stop()


@pytest.mark.live
def test_replication_pair_configured_well_has_no_replication_finding(
    pair: tuple[RedisServer, RedisServer],
) -> None:
    primary, replica = pair
    for server in pair:
        found, ran = checked(server.uri)
        assert {"replica-writable", "replica-buffer-too-small", "repl-backlog-small"} <= set(ran)
        assert not {check for check in found if found[check]["category"] == "replication"}
    with primary.client() as client:
        client.config_set("min-replicas-to-write", 1)
    try:
        assert "min-replicas-unmet" not in findings(primary.uri)
    finally:
        with primary.client() as client:
            client.config_set("min-replicas-to-write", 0)


@pytest.mark.live
def test_writable_replica_is_found_with_the_fix(pair: tuple[RedisServer, RedisServer]) -> None:
    _, replica = pair
    with replica.client() as client:
        client.config_set("replica-read-only", "no")
    try:
        found = findings(replica.uri)["replica-writable"]
    finally:
        with replica.client() as client:
            client.config_set("replica-read-only", "yes")
    assert found["evidence"]["replica-read-only"] == "no"
    assert found["evidence"]["role"] == "slave"
    assert found["fix"] == "CONFIG SET replica-read-only yes"
    assert found["priority"] == "medium"


@pytest.mark.live
def test_min_replicas_above_the_replicas_online_refuses_writes_now(
    pair: tuple[RedisServer, RedisServer],
) -> None:
    primary, _ = pair
    with primary.client() as client:
        client.config_set("min-replicas-to-write", 2)
    try:
        code, report = audit_report(primary.uri)
    finally:
        with primary.client() as client:
            client.config_set("min-replicas-to-write", 0)
    found = {rec.get("check"): rec for rec in report["recommendations"]}["min-replicas-unmet"]
    assert found["evidence"]["min-replicas-to-write"] == 2
    assert found["evidence"]["replicas_online"] == 1
    assert found["fix"] == "CONFIG SET min-replicas-to-write 1"
    assert found["priority"] == "high"  # NOREPLICAS on every write, now
    assert code == 0  # an audit finding is never critical


@pytest.mark.live
def test_busy_primary_with_small_backlog_and_replica_buffer_is_found(start_redis: Any) -> None:
    primary: RedisServer = start_redis(
        "--repl-diskless-sync-delay",
        "0",
        "--repl-backlog-size",
        "16kb",
        "--client-output-buffer-limit",
        "replica 1mb 512kb 10",
    )
    replica: RedisServer = start_redis("--replicaof", "127.0.0.1", str(primary.port))
    wait_for_link_up(replica)
    # The rate judged is the one during the sample: write while analyze samples.
    stop = threading.Event()

    def write() -> None:
        with primary.client() as client:
            n = 0
            while not stop.wait(0.05):  # ~2MB/s, far above the 16kb backlog's minute
                client.set(f"blob:{n % 200}", b"x" * 100_000)
                n += 1

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        found = findings(primary.uri)
    finally:
        stop.set()
        writer.join(timeout=10)
    backlog = found["repl-backlog-small"]
    assert backlog["evidence"]["repl-backlog-size"] == 16384
    assert backlog["evidence"]["seconds_covered"] < 60
    assert backlog["evidence"]["write_bytes_per_second"] > 100_000
    assert backlog["fix"].startswith("CONFIG SET repl-backlog-size ")
    buffer = found["replica-buffer-too-small"]
    assert buffer["evidence"]["replica_hard_limit"] == MIB
    assert "sync_full" in buffer["evidence"]
    assert buffer["fix"].startswith('CONFIG SET client-output-buffer-limit "replica ')


# --- cluster and sentinel ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Three primaries, no replicas, with the test fixture's short 1 s node timeout."""
    made = Cluster(size=3, replicas=0)
    yield made
    made.stop()


@pytest.mark.live
def test_cluster_node_with_full_coverage_and_short_timeout_is_found(cluster: Cluster) -> None:
    found = findings(cluster.nodes[0].uri)
    coverage = found["cluster-full-coverage"]
    assert coverage["evidence"]["cluster-require-full-coverage"] == "yes"
    assert coverage["fix"] == "CONFIG SET cluster-require-full-coverage no"
    timeout = found["cluster-node-timeout"]
    assert timeout["evidence"]["cluster-node-timeout"] == 1000
    assert timeout["fix"] == "CONFIG SET cluster-node-timeout 15000"


@pytest.mark.live
def test_cluster_node_configured_well_has_no_cluster_finding(cluster: Cluster) -> None:
    node = cluster.nodes[1]
    with node.client() as client:
        client.config_set("cluster-require-full-coverage", "no")
        client.config_set("cluster-node-timeout", 15000)
    found, ran = checked(node.uri)
    assert {"cluster-full-coverage", "cluster-node-timeout"} <= set(ran)
    assert not {"cluster-full-coverage", "cluster-node-timeout"} & set(found)


@pytest.fixture(scope="module")
def sentinels() -> Iterator[list[Sentinel]]:
    """Three sentinels with quorum 2 watching one primary."""
    primary = RedisServer()
    made = [Sentinel(primary.port) for _ in range(3)]

    def settled() -> bool:
        return all(s.client.sentinel_master("mymaster")["num-other-sentinels"] == 2 for s in made)

    wait_for(settled, timeout=30, what="three sentinels to see each other")
    yield made
    for sentinel in made:
        sentinel.stop()
    primary.stop()


@pytest.mark.live
def test_three_sentinels_with_quorum_two_have_no_finding(sentinels: list[Sentinel]) -> None:
    found, ran = checked(sentinels[0].uri)
    assert "sentinel-quorum" in ran
    assert "sentinel-quorum" not in found


@pytest.mark.live
def test_quorum_that_one_lost_sentinel_cannot_reach_is_found(sentinels: list[Sentinel]) -> None:
    sentinels[0].client.execute_command("SENTINEL", "SET", "mymaster", "quorum", "3")
    try:
        found = findings(sentinels[0].uri)["sentinel-quorum"]
    finally:
        sentinels[0].client.execute_command("SENTINEL", "SET", "mymaster", "quorum", "2")
    assert found["evidence"]["quorum"] == 3
    assert found["evidence"]["sentinels"] == 3
    assert found["fix"] == "SENTINEL SET mymaster quorum 2"


# --- security ------------------------------------------------------------------------------


@pytest.mark.live
def test_unprotected_redis_without_password_is_found_with_its_bind(start_redis: Any) -> None:
    server: RedisServer = start_redis("--protected-mode", "no")
    found = findings(server.uri)["open-without-auth"]
    assert found["evidence"]["protected-mode"] == "no"
    assert found["evidence"]["bind"] == "127.0.0.1"
    assert found["evidence"]["acl_users"] == "default"
    assert found["priority"] == "low"  # bound to loopback only
    assert "requirepass" in found["fix"]


@pytest.mark.live
def test_stock_protected_or_password_redis_has_no_security_finding(start_redis: Any) -> None:
    stock: RedisServer = start_redis()
    locked: RedisServer = start_redis("--protected-mode", "no", password="s3cret-pass")
    for uri in (stock.uri, f"redis://:s3cret-pass@127.0.0.1:{locked.port}"):
        found, ran = checked(uri)
        assert {"open-without-auth", "dangerous-commands-allowed"} <= set(ran)
        assert not {"open-without-auth", "dangerous-commands-allowed"} & set(found)


@pytest.mark.live
def test_application_user_allowed_flushall_and_keys_is_found(start_redis: Any) -> None:
    server: RedisServer = start_redis()
    with server.client() as client:
        client.execute_command("ACL", "SETUSER", "app", "on", ">app-pass", "~*", "+@all")
    found = findings(f"redis://app:app-pass@127.0.0.1:{server.port}")
    rec = found["dangerous-commands-allowed"]
    allowed = rec["evidence"]["allowed"].split(", ")
    assert {"FLUSHALL", "KEYS", "DEBUG", "CONFIG SET"} <= set(allowed)
    assert rec["evidence"]["user"] == "app"
    assert rec["fix"].startswith("ACL SETUSER app ")
    assert "-flushall" in rec["fix"] and "-config|set" in rec["fix"]
    assert "app-pass" not in json.dumps(rec)


@pytest.mark.live
def test_least_privilege_user_has_no_dangerous_commands_finding(start_redis: Any) -> None:
    server: RedisServer = start_redis()
    with server.client() as client:
        client.execute_command(
            "ACL", "SETUSER", "app", "on", ">app-pass", "~*", "+@all", "-@dangerous",
            "+info", "+config|get", "+acl|whoami", "+acl|dryrun", "+memory|usage", "+latency",
            "+slowlog", "+client|list", "+cluster|info", "+cluster|nodes", "+role",
        )  # fmt: skip
    uri = f"redis://app:app-pass@127.0.0.1:{server.port}"
    settings = read_settings(target_from_uri(uri), needs("redis"))
    # DRYRUN answered for every command: the silence below is a judgement, not a blind spot.
    assert settings.acl_user == "app"
    assert dict(settings.acl_allowed) == dict.fromkeys(DANGEROUS, False)
    found, ran = checked(uri)
    assert "dangerous-commands-allowed" in ran
    assert "dangerous-commands-allowed" not in found


# --- memcached -----------------------------------------------------------------------------


def memcached_send(port: int, payload: bytes) -> bytes:
    """Send commands and read until the last reply's line ends."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload + b"quit\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def memcached_set(port: int, prefix: str, count: int, size: int) -> None:
    value = b"v" * size
    payload = b"".join(
        b"set %s:%d 0 0 %d noreply\r\n%s\r\n" % (prefix.encode(), n, size, value)
        for n in range(count)
    )
    memcached_send(port, payload)


@pytest.mark.live
def test_memcached_near_the_stock_64mb_is_found(start_memcached: Any) -> None:
    server: MemcachedServer = start_memcached()
    memcached_set(server.port, "big", 600, 100_000)
    found = findings(server.uri)["memcached-default-memory"]
    assert found["evidence"]["limit_maxbytes"] == 64 * MIB
    assert found["evidence"]["bytes"] > 0.8 * 64 * MIB
    assert found["fix"].startswith("memcached -m ")


@pytest.mark.live
def test_memcached_given_memory_and_large_items_room_has_no_finding(start_memcached: Any) -> None:
    server: MemcachedServer = start_memcached("-m", "256", "-I", "2m")
    memcached_set(server.port, "big", 600, 100_000)
    memcached_set(server.port, "huge", 3, 700_000)
    found, ran = checked(server.uri)
    assert {"memcached-default-memory", "memcached-item-size", "memcached-slab-imbalance"} <= set(
        ran
    )
    assert not found


@pytest.mark.live
def test_memcached_items_near_the_size_limit_are_found(start_memcached: Any) -> None:
    server: MemcachedServer = start_memcached()
    memcached_set(server.port, "huge", 3, 700_000)
    found = findings(server.uri)["memcached-item-size"]
    assert found["evidence"]["item_size_max"] == MIB
    assert found["evidence"]["largest_chunk_size"] >= MIB // 2
    assert found["fix"] == "memcached -I 2m"


def fill_then_empty_small_class(server: MemcachedServer) -> None:
    """Give most pages to 1 KB items, delete them, then write 100 KB items until they evict."""
    memcached_set(server.port, "small", 5000, 1000)
    memcached_send(server.port, b"".join(b"delete small:%d noreply\r\n" % n for n in range(5000)))
    memcached_set(server.port, "large", 200, 100_000)


@pytest.mark.live
def test_memcached_evicting_class_beside_empty_one_without_automove_is_found(
    start_memcached: Any,
) -> None:
    server: MemcachedServer = start_memcached("-m", "8", "-o", "no_slab_reassign")
    fill_then_empty_small_class(server)
    found = findings(server.uri)["memcached-slab-imbalance"]
    assert found["evidence"]["slab_reassign"] == "no"
    assert found["evidence"]["evicting_classes"] >= 1
    assert found["evidence"]["empty_classes"] >= 1
    assert found["fix"] == "memcached -o slab_reassign,slab_automove=1"


@pytest.mark.live
def test_memcached_with_automove_on_has_no_slab_finding(start_memcached: Any) -> None:
    server: MemcachedServer = start_memcached("-m", "8")
    fill_then_empty_small_class(server)
    found, ran = checked(server.uri)
    assert "memcached-slab-imbalance" in ran
    assert "memcached-slab-imbalance" not in found


@pytest.fixture
def start_memcached() -> Iterator[Any]:
    """Factory: start_memcached(*args) -> MemcachedServer, all stopped at the end."""
    started: list[MemcachedServer] = []

    def start(*args: str) -> MemcachedServer:
        server = MemcachedServer(*args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# --- the pure rules ------------------------------------------------------------------------


@pytest.mark.unit
def test_replica_class_is_read_from_redis_own_rendering() -> None:
    stock = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    assert replica_limits(stock) == (256 * MIB, 64 * MIB, 60)
    assert replica_limits("replica 1mb 512kb 10") == (MIB, 512 * 1024, 10)
    assert replica_limits("normal 0 0 0") is None


@pytest.mark.unit
@given(
    hard=st.integers(0, 2**34),
    soft=st.integers(0, 2**34),
    soft_seconds=st.integers(0, 3600),
    rate=st.floats(1.0, 1e10),
)
def test_buffer_covers_no_longer_than_its_hard_limit_and_zero_means_unlimited(
    hard: int, soft: int, soft_seconds: int, rate: float
) -> None:
    covered = seconds_covered(hard, soft, soft_seconds, rate)
    if hard:
        assert covered <= hard / rate
    if not hard and not soft:
        assert covered == float("inf")
    assert covered >= 0


@pytest.mark.unit
@given(sentinels=st.integers(1, 15), quorum=st.integers(1, 15))
def test_quorum_rule_holds_exactly_when_one_sentinel_down_still_reaches_quorum_and_majority(
    sentinels: int, quorum: int
) -> None:
    left = sentinels - 1
    expected = left >= quorum and left > sentinels / 2
    assert survives_one_loss(sentinels, quorum) == expected


@pytest.mark.unit
def test_loopback_bind_is_told_from_an_exposed_one() -> None:
    assert loopback_only("127.0.0.1 -::1")
    assert not loopback_only("")  # no bind: every interface
    assert not loopback_only("127.0.0.1 10.0.0.5")
    assert not loopback_only("* -::*")
