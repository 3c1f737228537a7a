"""The integration behaviours, against every Redis-protocol server of the matrix.

Each test runs once per server (Redis 7.0, 6.2, 8.2, Valkey 8.1) and its id
names the server and version, e.g. `test_full_info_set[redis-6.2.14]`.
"""

from __future__ import annotations

import contextlib
import json
import re
import time

import redis
from cachescope.dashboards.render import build
from cachescope.redis.fields import FIELDS, SKIPPED
from cachescope.rules import thresholds
from cachescope.rules.render import render_documents
from matrix import REDIS_SERVERS, ServerBinary
from servers import Exposition, RedisServer, StartExporter, StartRedis, wait_for_link_up

PASSWORD = "m4trix-Pa55word-z3"


def name(server: RedisServer) -> str:
    return f"127.0.0.1:{server.port}"


def observer(server: RedisServer) -> redis.Redis:
    """A client whose one connection is opened now: the CLIENT SETINFO that redis-py
    sends on connect (an error on Redis 7.0) is counted before the test's first reading."""
    client = server.client()
    client.ping()
    return client


def error_state(client: redis.Redis) -> tuple[int, dict[str, object]]:
    """total_error_replies, and errorstats to show which errors they were."""
    return client.info("stats")["total_error_replies"], client.info("errorstats")


def capabilities(metrics: Exposition, instance: str) -> dict[str, float]:
    return {
        labels["capability"]: value
        for sample, labels, value in metrics.samples
        if sample == "cachescope_target_capability" and labels.get("instance") == instance
    }


def scrape_errors(metrics: Exposition, instance: str) -> dict[str, float]:
    return metrics.scrape_errors(instance)


def missing_numeric_fields(
    info: dict[str, object], metrics: Exposition, instance: str
) -> list[str]:
    """INFO's plain numeric fields that no family of the scrape carries."""
    exported = {name for name, labels, _ in metrics.samples if labels.get("instance") == instance}
    missing = []
    for key, value in info.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if key in SKIPPED or key.startswith(("db", "module")):
            continue
        name = FIELDS[key].name if key in FIELDS else f"redis_{key}"
        if name not in exported and f"{name}_total" not in exported:
            missing.append(key)
    return missing


def test_full_info_set_with_the_fields_this_version_has(
    redis_binary: ServerBinary, any_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = any_redis()
    client = server.client()
    client.set("user:1:profile", "x", ex=600)
    client.get("user:1:profile")
    client.get("missing")
    with contextlib.suppress(redis.ResponseError):
        client.execute_command("NOSUCHCOMMAND")  # gives errorstats a line
    exporter = start_exporter("--target", server.uri)
    metrics = exporter.metrics()
    instance = name(server)
    assert metrics.value("redis_up", instance=instance) == 1
    assert scrape_errors(metrics, instance) == {}
    assert metrics.value("redis_keyspace_hits_total", instance=instance) >= 1
    assert metrics.value("redis_keyspace_misses_total", instance=instance) >= 1
    assert metrics.value("redis_db_keys", instance=instance, db="db0") == 1
    assert metrics.value("redis_db_keys_expiring", instance=instance, db="db0") == 1
    assert metrics.value("redis_commands_total", instance=instance, cmd="get") >= 2
    assert metrics.value("redis_errors_total", instance=instance, err="ERR") >= 1
    assert metrics.value("redis_config_maxclients", instance=instance) > 0
    assert metrics.value("redis_config_io_threads", instance=instance) >= 1  # CONFIG GET
    assert metrics.value("redis_slowlog_length", instance=instance) >= 0
    info = metrics.get("redis_instance_info", instance=instance, role="master")
    assert info == [1.0]

    # Latencystats exist from Redis 7.0 (and on every Valkey): absent, not zero, before.
    percentiles = metrics.get("redis_latency_percentiles_usec_count", instance=instance, cmd="get")
    assert percentiles == ([2.0] if redis_binary.has_latencystats else [])

    # Valkey names itself apart from the Redis version it is compatible with.
    labels = next(
        have
        for sample, have, _ in metrics.samples
        if sample == "redis_instance_info" and have.get("instance") == instance
    )
    if redis_binary.server == "valkey":
        assert labels["server_name"] == "valkey"
        assert labels["valkey_version"] == redis_binary.version
        assert labels["redis_version"] == "7.2.4"
    else:
        assert labels["redis_version"] == redis_binary.version
        assert "server_name" not in labels and "valkey_version" not in labels

    # The modules INFO lists (Redis 8.2 runs with FalkorDB's graph; vector sets are built in).
    modules = {
        have["name"]
        for sample, have, _ in metrics.samples
        if sample == "redis_module_info" and have.get("instance") == instance
    }
    assert modules == redis_binary.module_names

    # Redis 7.4 and 8 add fields redis_exporter names; they come under its names and types.
    if redis_binary.server == "redis" and redis_binary.version_tuple >= (8,):
        for family, kind in {
            "redis_expired_subkeys_total": "counter",
            "redis_allocator_muzzy_bytes": "gauge",
            "redis_total_blocking_keys_on_nokey": "gauge",
            "redis_mem_overhead_db_hashtable_rehashing_bytes": "gauge",
            "redis_io_threaded_prefetch_batches_total": "counter",
        }.items():
            assert metrics.types.get(family) == kind, family
    # Every numeric INFO field is exported, named or as untyped `redis_<field>`.
    assert missing_numeric_fields(client.info("everything"), metrics, instance) == []

    # COMMANDLOG (Valkey 8.1): its three logs, and nothing of it on Redis.
    commandlog = metrics.get("redis_commandlog_large_request_length", instance=instance)
    assert commandlog == ([0.0] if redis_binary.has_commandlog else [])
    expected = {"config": 1.0, "slowlog": 1.0, "latency": 1.0, "client_setname": 1.0}
    if redis_binary.has_commandlog:
        expected["commandlog"] = 1.0
    if redis_binary.has_latency_histogram:
        expected["latency_histogram"] = 1.0
    assert capabilities(metrics, instance) == expected


def test_error_replies_do_not_move_across_100_scrapes(
    redis_binary: ServerBinary, any_redis: StartRedis, start_exporter: StartExporter
) -> None:
    """Nothing the exporter sends is refused, from the first scrape on: the server's own
    error counters stay where they were."""
    server = any_redis()
    watch = observer(server)
    before = error_state(watch)
    exporter = start_exporter("--target", server.uri)
    path = f"/scrape?target={server.uri}"
    for _ in range(100):
        assert exporter.metrics(path).value("redis_up") == 1
    after = error_state(watch)
    assert after == before, f"{redis_binary.id}: errors before {before}, after {after}"
    ours = [c for c in watch.client_list() if c["name"] == "cachescope"]
    assert len(ours) == 1  # one persistent connection for all the scrapes
    sent = {"info", "slowlog", "config", "latency", "commandlog"}
    for command, stats in watch.info("commandstats").items():
        if command.split("|")[0] in sent:  # Redis 7 counts `config|get`, 6.2 `config`
            assert stats.get("failed_calls", 0) == stats.get("rejected_calls", 0) == 0, command


def test_password_and_least_privilege_acl_user(
    redis_binary: ServerBinary, any_redis: StartRedis, start_exporter: StartExporter
) -> None:
    protected = any_redis(password=PASSWORD)
    acl = any_redis()
    grants = ["+info", "+config|get", "+slowlog", "+latency", "+client|setname", "+ping"]
    if redis_binary.has_commandlog:
        grants.append("+commandlog")
    admin = acl.client()
    admin.execute_command("ACL", "SETUSER", "exporter", "on", f">{PASSWORD}", *grants)
    exporter = start_exporter(
        "--target",
        protected.uri,
        "--target",
        f"redis://exporter@127.0.0.1:{acl.port}",
        env={"CACHESCOPE_REDIS_PASSWORD": PASSWORD},
    )
    metrics = exporter.metrics()
    for server in (protected, acl):
        assert metrics.value("redis_up", instance=name(server)) == 1
        assert metrics.value("redis_config_io_threads", instance=name(server)) >= 1
        assert set(capabilities(metrics, name(server)).values()) == {1.0}
        assert scrape_errors(metrics, name(server)) == {}
    ours = [c for c in admin.client_list() if c["name"] == "cachescope"]
    assert [c["user"] for c in ours] == ["exporter"]
    assert PASSWORD not in exporter.log() + metrics.text


def test_replica_and_primary_see_each_other(
    any_redis: StartRedis, start_exporter: StartExporter
) -> None:
    primary = any_redis("--repl-diskless-sync-delay", "0")
    replica = any_redis("--replicaof", "127.0.0.1", str(primary.port))
    wait_for_link_up(replica)
    exporter = start_exporter("--target", primary.uri, "--target", replica.uri)
    metrics = exporter.metrics()
    assert metrics.value("redis_connected_slaves", instance=name(primary)) == 1
    offsets = metrics.get("redis_connected_slave_offset_bytes", instance=name(primary))
    assert len(offsets) == 1
    link = {"master_host": "127.0.0.1", "master_port": str(primary.port)}
    assert metrics.value("redis_master_link_up", instance=name(replica), **link) == 1
    assert metrics.get("redis_instance_info", instance=name(replica), role="slave") == [1.0]
    assert metrics.get("redis_slave_info", instance=name(replica), **link) == [1.0]


def test_down_and_hung_targets_cost_only_their_own_series(
    any_redis: StartRedis, start_exporter: StartExporter
) -> None:
    hung, doomed, healthy = any_redis(), any_redis(), any_redis()
    exporter = start_exporter(
        *("--target", hung.uri, "--target", doomed.uri, "--target", healthy.uri),
        *("--timeout", "1s"),
    )
    assert exporter.metrics().value("redis_up", instance=name(hung)) == 1
    hung.pause()
    doomed.stop()
    start = time.monotonic()
    metrics = exporter.metrics()
    assert time.monotonic() - start < 3
    assert metrics.value("redis_up", instance=name(hung)) == 0
    assert scrape_errors(metrics, name(hung)) == {"timeout": 1}
    assert metrics.value("redis_up", instance=name(doomed)) == 0
    assert scrape_errors(metrics, name(doomed)) == {"connect": 1}
    assert metrics.value("redis_up", instance=name(healthy)) == 1
    hung.resume()
    doomed.restart()
    metrics = exporter.metrics()
    for server in (hung, doomed, healthy):
        assert metrics.value("redis_up", instance=name(server)) == 1


def families_read_by_rules_and_dashboards() -> set[str]:
    """Every redis_* name in the rendered rules and dashboards (labels too: harmless here)."""
    values = thresholds.load()
    texts = [*render_documents(values, "prometheus").values(), json.dumps(build(values))]
    return {name for text in texts for name in re.findall(r"\bredis_[a-z0-9_]+", text)}


def test_redis_8_2_keeps_every_series_the_rules_and_dashboards_read_on_7_0(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    newest = next(binary for binary in REDIS_SERVERS if binary.version_tuple >= (8, 2))
    old = start_redis()
    new = start_redis(*newest.module_args, binary=newest.require())
    for server in (old, new):
        client = server.client()
        client.set("user:1:profile", "x", ex=600)
        client.get("user:1:profile")
        client.get("missing")
        with contextlib.suppress(redis.ResponseError):
            client.execute_command("NOSUCHCOMMAND")
    metrics = start_exporter("--target", old.uri, "--target", new.uri).metrics()

    def samples(server: RedisServer) -> set[str]:
        return {s for s, labels, _ in metrics.samples if labels.get("instance") == name(server)}

    read = families_read_by_rules_and_dashboards()
    assert len(read & samples(new)) > 30  # the rules and dashboards do read this scrape
    assert sorted(read & samples(old) - samples(new)) == []
