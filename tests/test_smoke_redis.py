"""The basics against a real redis-server: up, full INFO set, no secrets."""

from __future__ import annotations

from servers import RedisServer


def test_serve_reports_up_and_the_full_info_set(redis_server: RedisServer, start_exporter) -> None:  # type: ignore[no-untyped-def]
    client = redis_server.client()
    client.set("user:1:profile", "x", ex=600)
    client.get("user:1:profile")
    client.get("missing")
    exporter = start_exporter("--target", redis_server.uri)
    metrics = exporter.metrics()
    instance = f"127.0.0.1:{redis_server.port}"
    assert metrics.value("redis_up", instance=instance) == 1
    assert metrics.value("redis_keyspace_hits_total", instance=instance) >= 1
    assert metrics.value("redis_keyspace_misses_total", instance=instance) >= 1
    assert metrics.value("redis_db_keys", instance=instance, db="db0") == 1
    assert metrics.value("redis_db_keys_expiring", instance=instance, db="db0") == 1
    assert metrics.value("redis_commands_total", instance=instance, cmd="get") >= 2
    assert metrics.types["redis_commands_total"] == "counter"
    assert metrics.types["redis_memory_used_bytes"] == "gauge"
    info = metrics.get("redis_instance_info", instance=instance, role="master")
    assert info == [1.0]
