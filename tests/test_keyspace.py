"""The keyspace sampler against real Redis: estimates, budget, big, hot and stream keys."""

from __future__ import annotations

from pathlib import Path

import redis
from servers import Exporter, Exposition, RedisServer, wait_for

USERS, SESSIONS, CARTS = 3000, 2000, 500


def fill(client: redis.Redis) -> None:
    """Key families with and without TTLs, a big value, a queue, a stream with a lagging group."""
    pipe = client.pipeline(transaction=False)
    for i in range(USERS):
        pipe.set(f"user:{i}:profile", "x" * 100)
    for i in range(SESSIONS):
        pipe.set(f"sess:{i}", "y" * 50, ex=3600)
    for i in range(CARTS):
        pipe.hset(f"cart:{i}", mapping={"a": 1, "b": 2})
    pipe.rpush("write_queue", *range(1000))
    pipe.set("blob:big", "z" * 200_000)
    pipe.execute()
    client.xgroup_create("events", "mailer", id="0", mkstream=True)
    for i in range(50):
        client.xadd("events", {"n": i})
    client.xreadgroup("mailer", "worker-1", {"events": ">"}, count=10)


def config(tmp_path: Path, server: RedisServer, **options: object) -> str:
    keyspace = {
        "interval": "1h",
        "keys_per_cycle": 10_000,
        "commands_per_second": 50_000,
        "top": 3,
        "groups": [{"name": "sessions", "pattern": "sess:*"}],
        "check_keys": ["write_queue"],
        "streams": ["events"],
        **options,
    }
    lines = "\n".join(
        f"      {key}: {value!r}".replace("'", '"') for key, value in keyspace.items()
    )
    path = tmp_path / "keyspace.yml"
    path.write_text(f"targets:\n  - uri: {server.uri}\n    name: cache\n    keyspace:\n{lines}\n")
    return str(path)


def sampled(exporter: Exporter) -> Exposition:
    wait_for(
        lambda: exporter.metrics().get("redis_keyspace_sample_age_seconds"),
        timeout=60,
        what="a sampling cycle to finish",
    )
    return exporter.metrics()


def group(metrics: Exposition, name: str, key_group: str) -> float:
    return metrics.value(name, instance="cache", db="db0", key_group=key_group)


def test_full_pass_gives_exact_groups_biggest_keys_and_stream_lag(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis("--maxmemory-policy", "allkeys-lfu")
    client = server.client()
    fill(client)
    for _ in range(200):
        client.get("user:7:profile")
    metrics = sampled(start_exporter("--config.file", config(tmp_path, server)))

    assert group(metrics, "redis_key_group_keys_estimated", "user") == USERS
    assert group(metrics, "redis_key_group_keys_estimated", "sessions") == SESSIONS
    assert group(metrics, "redis_key_group_no_ttl_keys_estimated", "sessions") == 0
    assert group(metrics, "redis_key_group_no_ttl_keys_estimated", "cart") == CARTS
    truth = sum(client.memory_usage(f"cart:{i}", samples=5) for i in range(CARTS))
    assert (
        abs(group(metrics, "redis_key_group_memory_bytes_estimated", "cart") - truth) < 0.05 * truth
    )

    biggest = [
        labels["key"] for name, labels, _ in metrics.samples if name == "redis_big_key_memory_bytes"
    ]
    assert biggest[0] == "blob:big" and len(biggest) == 3
    assert metrics.value("redis_big_key_elements", key="write_queue", type="list") == 1000
    hottest = [
        labels["key"]
        for name, labels, _ in metrics.samples
        if name == "redis_hot_key_lfu_frequency"
    ]
    assert hottest[0] == "user:7:profile"
    assert metrics.value("redis_keyspace_hot_keys_supported") == 1
    assert metrics.value("redis_key_size", key="write_queue") == 1000
    assert metrics.value("redis_stream_length", stream="events") == 50
    assert metrics.value("redis_stream_group_messages_pending", group="mailer") == 10
    assert metrics.value("redis_stream_group_lag", group="mailer") == 40
    assert metrics.value("redis_keyspace_sample_source_info", source="primary") == 1


def test_partial_sample_estimates_within_a_stated_error_and_within_budget(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis()
    client = server.client()
    fill(client)
    before = client.info("commandstats")
    path = config(tmp_path, server, keys_per_cycle=2000, scan_count=50, commands_per_second=4000)
    metrics = sampled(start_exporter("--config.file", path))
    # 2000 of 5503 keys: the large groups come within 15% of the truth.
    for key_group, truth in (("user", USERS), ("sessions", SESSIONS)):
        estimate = group(metrics, "redis_key_group_keys_estimated", key_group)
        assert abs(estimate - truth) < 0.15 * truth, (key_group, estimate)
    assert metrics.value("redis_keyspace_sampled_keys", db="db0") == 2000
    assert metrics.value("redis_keyspace_hot_keys_supported") == 0  # noeviction: no LFU
    assert metrics.get("redis_hot_key_lfu_frequency") == []

    after = client.info("commandstats")

    def calls(command: str) -> int:
        return after.get(f"cmdstat_{command}", {}).get("calls", 0) - before.get(
            f"cmdstat_{command}", {}
        ).get("calls", 0)

    assert calls("keys") == 0 and calls("debug") == 0
    assert calls("scan") <= 2000 // 50 + 2  # SCAN COUNT 50 returns about 50 keys a call
    assert calls("type") <= 2000 + 1  # the checked key too
    assert calls("memory|usage") <= 2000
    sent = metrics.value("redis_keyspace_sample_commands_total")
    # The pace: at 4000 commands/s, the cycle cannot have been quicker than sent / 4000.
    assert metrics.value("redis_keyspace_sample_duration_seconds") >= 0.9 * sent / 4000


def test_a_million_keys_are_sampled_without_a_slow_command(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis("--enable-debug-command", "yes")
    client = server.client()
    client.execute_command("DEBUG", "POPULATE", 1_000_000, "key", 20)  # test setup only
    client.config_set("slowlog-log-slower-than", 10_000)  # 10 ms
    client.slowlog_reset()
    path = config(tmp_path, server, keys_per_cycle=5000, memory_samples=5)
    metrics = sampled(start_exporter("--config.file", path))
    assert metrics.value("redis_keyspace_sampled_keys", db="db0") == 5000
    estimate = group(metrics, "redis_key_group_keys_estimated", "key")
    assert abs(estimate - 1_000_000) < 1  # one family: the estimate is the database size
    assert client.slowlog_get(128) == []


def test_sampler_prefers_an_online_replica_and_can_hash_key_names(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    primary: RedisServer = start_redis()
    fill(primary.client())
    replica: RedisServer = start_redis(
        "--replicaof", "127.0.0.1", str(primary.port), "--repl-diskless-sync-delay", "0"
    )
    wait_for(
        lambda: replica.client().info("replication")["master_link_status"] == "up",
        what="replica link up",
    )
    wait_for(lambda: replica.client().dbsize() == primary.client().dbsize(), what="replica sync")
    path = config(tmp_path, primary, prefer_replica=True, key_names="hash")
    metrics = sampled(start_exporter("--config.file", path))
    assert metrics.value("redis_keyspace_sample_source_info", source="replica") == 1
    assert primary.client().info("commandstats").get("cmdstat_scan") is None
    assert replica.client().info("commandstats")["cmdstat_scan"]["calls"] > 0
    keys = [labels["key"] for name, labels, _ in metrics.samples if "key" in labels]
    assert keys and all(key.startswith("sha256:") for key in keys)
    assert "blob:big" not in metrics.text and "write_queue" not in metrics.text
