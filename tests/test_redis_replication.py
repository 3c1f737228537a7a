"""Replication seen from both sides: the primary's replicas and the replica's link."""

from __future__ import annotations

from servers import RedisServer, StartExporter, wait_for


def name(server: RedisServer) -> str:
    return f"127.0.0.1:{server.port}"


def test_primary_reports_its_replica_with_offset_and_lag(
    primary_and_replica: tuple[RedisServer, RedisServer], start_exporter: StartExporter
) -> None:
    primary, replica = primary_and_replica
    client = primary.client()
    client.set("replicated", "1")
    assert client.execute_command("WAIT", 1, 2000) == 1  # the replica has acknowledged an offset
    exporter = start_exporter("--target", primary.uri)
    metrics = exporter.metrics()
    replica_labels = {
        "instance": name(primary),
        "slave_ip": "127.0.0.1",
        "slave_port": str(replica.port),
        "slave_state": "online",
    }
    assert metrics.value("redis_connected_slaves", instance=name(primary)) == 1
    assert metrics.value("redis_connected_slave_offset_bytes", **replica_labels) > 0
    assert 0 <= metrics.value("redis_connected_slave_lag_seconds", **replica_labels) < 5
    assert metrics.value("redis_instance_info", instance=name(primary), role="master") == 1
    assert metrics.get("redis_master_link_up", instance=name(primary)) == []
    assert metrics.types["redis_connected_slave_offset_bytes"] == "gauge"


def test_replica_reports_link_up_and_its_primary(
    primary_and_replica: tuple[RedisServer, RedisServer], start_exporter: StartExporter
) -> None:
    primary, replica = primary_and_replica
    exporter = start_exporter("--target", replica.uri)
    metrics = exporter.metrics()
    link = {"instance": name(replica), "master_host": "127.0.0.1", "master_port": str(primary.port)}
    assert metrics.value("redis_master_link_up", **link) == 1
    assert metrics.value("redis_master_sync_in_progress", **link) == 0
    assert metrics.value("redis_master_last_io_seconds_ago", **link) >= 0
    assert metrics.value("redis_slave_repl_offset", **link) >= 0
    assert metrics.value("redis_slave_info", read_only="1", **link) == 1
    assert metrics.value("redis_instance_info", instance=name(replica), role="slave") == 1
    assert metrics.value("redis_connected_slaves", instance=name(replica)) == 0


def test_replica_keyspace_follows_the_primary(
    primary_and_replica: tuple[RedisServer, RedisServer], start_exporter: StartExporter
) -> None:
    primary, replica = primary_and_replica
    client = primary.client()
    for i in range(5):
        client.set(f"k{i}", i)
    client.execute_command("WAIT", 1, 2000)
    exporter = start_exporter("--target", replica.uri)
    assert exporter.metrics().value("redis_db_keys", instance=name(replica), db="db0") == 5


def test_replica_link_down_sets_master_link_up_zero(
    primary_and_replica: tuple[RedisServer, RedisServer], start_exporter: StartExporter
) -> None:
    primary, replica = primary_and_replica
    exporter = start_exporter("--target", replica.uri, "--target", primary.uri)
    link = {"instance": name(replica), "master_host": "127.0.0.1", "master_port": str(primary.port)}
    assert exporter.metrics().value("redis_master_link_up", **link) == 1
    primary.stop()

    def link_down() -> bool:
        return exporter.metrics().value("redis_master_link_up", **link) == 0

    wait_for(link_down, timeout=8, what="replica to notice its primary is gone")
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance=name(replica)) == 1
    assert metrics.value("redis_up", instance=name(primary)) == 0
    assert metrics.value("redis_instance_info", instance=name(replica), role="slave") == 1


def test_replica_promoted_to_primary_changes_role(
    primary_and_replica: tuple[RedisServer, RedisServer], start_exporter: StartExporter
) -> None:
    primary, replica = primary_and_replica
    exporter = start_exporter("--target", replica.uri)
    assert (
        exporter.metrics().value("redis_instance_info", instance=name(replica), role="slave") == 1
    )
    replica.client().execute_command("REPLICAOF", "NO", "ONE")
    metrics = exporter.metrics()
    assert metrics.value("redis_instance_info", instance=name(replica), role="master") == 1
    assert metrics.get("redis_slave_info", instance=name(replica)) == []
    assert metrics.get("redis_master_link_up", instance=name(replica)) == []
