"""Cluster and Sentinel: one seed in the config, every node watched, through failovers."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import Exporter, Exposition, require_binary, wait_for
from topology_servers import Cluster, SentinelSet


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    made = Cluster()
    yield made
    made.stop()


@pytest.fixture(scope="module")
def sentinel_set() -> Iterator[SentinelSet]:
    made = SentinelSet()
    yield made
    made.stop()


def roles(metrics: Exposition, **labels: str) -> dict[str, str]:
    """instance -> role, from redis_instance_info."""
    return {
        have["instance"]: have["role"]
        for name, have, _ in metrics.samples
        if name == "redis_instance_info" and all(have.get(k) == v for k, v in labels.items())
    }


def write_config(tmp_path: Path, cluster: Cluster, sentinel_set: SentinelSet) -> str:
    path = tmp_path / "topology.yml"
    path.write_text(f"""
targets:
  - uri: redis://127.0.0.1:{cluster.nodes[0].port}
    name: orders
    discover: {{kind: cluster, interval: 200ms}}
  - uri: {sentinel_set.sentinels[0].uri}
    name: sentinel-a
    discover: {{kind: sentinel, master_sets: [mymaster], interval: 200ms}}
""")
    return str(path)


def test_one_seed_and_one_sentinel_cover_every_node_with_roles_through_failovers(
    cluster: Cluster,
    sentinel_set: SentinelSet,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    exporter: Exporter = start_exporter(
        "--config.file", write_config(tmp_path, cluster, sentinel_set)
    )
    metrics = exporter.metrics()
    # Discovery runs in the background; start-up waits for its first round, so the very
    # first /metrics already lists every node, and says how fresh each topology is.
    assert metrics.value("cachescope_discovery_targets", seed="orders") == 6
    assert metrics.value("cachescope_discovery_targets", seed="sentinel-a") == 3
    for seed in ("orders", "sentinel-a"):
        assert metrics.value("cachescope_discovery_errors_total", seed=seed) == 0
        assert 0 <= metrics.value("cachescope_discovery_age_seconds", seed=seed) < 10

    cluster_roles = roles(metrics, cluster="orders")
    assert set(cluster_roles) == {f"127.0.0.1:{node.port}" for node in cluster.nodes}
    assert sorted(cluster_roles.values()) == ["master"] * 3 + ["slave"] * 3
    for node in cluster.nodes:
        instance = f"127.0.0.1:{node.port}"
        assert metrics.value("redis_up", instance=instance) == 1
        assert metrics.value("redis_cluster_state", instance=instance) == 1
        assert metrics.value("redis_cluster_known_nodes", instance=instance) == 6
    slots = sum(
        metrics.value("redis_cluster_node_slots", instance=i)
        for i, role in cluster_roles.items()
        if role == "master"
    )
    assert slots == 16384

    set_roles = roles(metrics, master_set="mymaster")
    primary = f"127.0.0.1:{sentinel_set.primary.port}"
    assert set_roles == {
        primary: "master",
        **{f"127.0.0.1:{replica.port}": "slave" for replica in sentinel_set.replicas},
    }
    assert (
        metrics.value(
            "redis_sentinel_master_status",
            instance="sentinel-a",
            master_name="mymaster",
            master_status="ok",
        )
        == 1
    )
    assert metrics.value("redis_sentinel_master_ok_sentinels", instance="sentinel-a") == 3
    assert metrics.value("redis_sentinel_master_ok_slaves", instance="sentinel-a") == 2
    assert metrics.get("redis_sentinel_master_ckquorum_status", instance="sentinel-a") == [1]

    # Cluster failover: a replica takes over its primary's slots.
    replica = next(n for n in cluster.nodes if cluster.role(n) == "slave")
    replica.client().execute_command("CLUSTER", "FAILOVER")
    wait_for(lambda: cluster.role(replica) == "master", timeout=20, what="cluster failover")
    # Sentinel failover: the sentinels promote a replica.
    sentinel_set.sentinels[0].client.sentinel_failover("mymaster")
    wait_for(
        lambda: sentinel_set.master_port() != sentinel_set.primary.port,
        timeout=20,
        what="sentinel failover",
    )
    new_primary = f"127.0.0.1:{sentinel_set.master_port()}"

    def followed() -> bool:
        now = exporter.metrics()
        return (
            roles(now, cluster="orders").get(f"127.0.0.1:{replica.port}") == "master"
            and roles(now, master_set="mymaster").get(new_primary) == "master"
            and roles(now, master_set="mymaster").get(primary) == "slave"
        )

    wait_for(followed, timeout=20, what="roles to follow both failovers")
    after = exporter.metrics()
    assert sorted(roles(after, cluster="orders").values()) == ["master"] * 3 + ["slave"] * 3
    assert len(roles(after, master_set="mymaster")) == 3


def test_new_cluster_nodes_appear_and_a_dead_seed_is_survived(
    cluster: Cluster,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    seed = cluster.nodes[-1]
    config = tmp_path / "cluster.yml"
    config.write_text(f"""
targets:
  - uri: redis://127.0.0.1:{seed.port}
    name: orders
    discover: {{kind: cluster, interval: 200ms}}
""")
    exporter: Exporter = start_exporter("--config.file", str(config), "--timeout", "1s")
    assert len(roles(exporter.metrics(), cluster="orders")) == 6

    newcomer = Cluster.start_node()
    instance = f"127.0.0.1:{newcomer.port}"
    try:
        cluster.nodes[0].client().execute_command("CLUSTER", "MEET", "127.0.0.1", newcomer.port)
        wait_for(
            lambda: instance in roles(exporter.metrics(), cluster="orders"),
            timeout=20,
            what="the new node to be discovered",
        )
        assert exporter.metrics().value("redis_up", instance=instance) == 1
        # Removing it from the cluster (forgotten by every node) removes it from the exporter.
        wait_for(
            lambda: all(cluster.knows(node, newcomer) for node in cluster.nodes),
            timeout=20,
            what="every node to know the newcomer",
        )
        removal = subprocess.run(
            [
                require_binary("redis-cli"),
                "--cluster",
                "del-node",
                f"127.0.0.1:{cluster.nodes[0].port}",
                newcomer.client().execute_command("CLUSTER", "MYID").decode(),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert removal.returncode == 0, removal.stdout + removal.stderr
        wait_for(
            lambda: instance not in roles(exporter.metrics(), cluster="orders"),
            timeout=20,
            what="the removed node to disappear",
        )
    finally:
        newcomer.stop()

    seed.stop()
    cluster.nodes.remove(seed)
    # The seed is gone: discovery asks the other nodes it knows, and nobody is lost.
    metrics = exporter.metrics()
    assert metrics.value("cachescope_discovery_targets", seed="orders") == 6  # the dead one too
    # Still fresh (rounds every 200ms succeed through a known node), 15x from the interval.
    assert metrics.value("cachescope_discovery_age_seconds", seed="orders") < 3
    assert metrics.value("redis_up", instance=f"127.0.0.1:{seed.port}") == 0
    for node in cluster.nodes:
        assert metrics.value("redis_up", instance=f"127.0.0.1:{node.port}") == 1


def test_discover_endpoint_lists_expanded_targets_without_secrets(
    sentinel_set: SentinelSet,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    import json

    config = tmp_path / "sentinel.yml"
    config.write_text(f"""
targets:
  - uri: {sentinel_set.sentinels[1].uri}
    name: sentinel-b
    discover: sentinel
""")
    exporter: Exporter = start_exporter("--config.file", str(config))
    status, body = exporter.get("/discover")
    assert status == 200
    groups = json.loads(body)
    listed = {group["targets"][0] for group in groups}  # by name: the instance on /metrics
    assert {f"127.0.0.1:{s.port}" for s in sentinel_set.servers} <= listed
    assert "sentinel-b" in listed
    uris = {group["labels"]["__meta_cachescope_uri"] for group in groups}
    assert {f"redis://127.0.0.1:{s.port}" for s in sentinel_set.servers} <= uris
    # Only as __meta_ labels: /scrape returns master_set itself, so no exported_master_set.
    master_sets = {group["labels"].get("__meta_cachescope_label_master_set") for group in groups}
    assert "mymaster" in master_sets
    assert all(key.startswith("__meta_cachescope_") for g in groups for key in g["labels"])
