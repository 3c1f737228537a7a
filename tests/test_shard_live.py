"""--shard across real replicas: each target scraped exactly once, in both modes.

/scrape: two replicas behind a real Prometheus whose jobs split the targets by hashmod, as
deploy/prometheus/scrape-configs.yml ships them; hashmod (md5) and --shard (sha256) disagree
on several of the target names here, so a replica that kept to its slice would drop them.
/metrics: replicas over one config, a Redis Cluster's discovered nodes included.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cachescope.scrape.shard import Shard, in_shard
from prometheus import Prometheus
from servers import Exporter, RedisServer, wait_for
from topology_servers import Cluster

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[1]
NAMES = [f"cache-{n}" for n in range(8)]


def hashmod_jobs(replicas: list[Exporter], targets_file: Path) -> list[dict[str, Any]]:
    """The shipped redis-shard-0 job, once per replica: modulus, shard and address set."""
    shipped = yaml.safe_load((ROOT / "deploy/prometheus/scrape-configs.yml").read_text())
    template = next(j for j in shipped["scrape_configs"] if j["job_name"] == "redis-shard-0")
    jobs = []
    for index, replica in enumerate(replicas):
        job = copy.deepcopy(template)
        job |= {"job_name": f"redis-shard-{index}", "scrape_interval": "1s"}
        job["file_sd_configs"] = [{"files": [str(targets_file)]}]
        hashmod, keep, *_, address = job["relabel_configs"]
        hashmod["modulus"] = len(replicas)
        keep["regex"] = str(index)
        address["replacement"] = f"127.0.0.1:{replica.port}"
        jobs.append(job)
    return jobs


class HashmodPrometheus(Prometheus):
    """prometheus running the given scrape jobs every second."""

    def __init__(self, workdir: Path, jobs: list[dict[str, Any]]) -> None:
        config = {"global": {"scrape_interval": "1s"}, "scrape_configs": jobs}
        self.launch(workdir, config)


def scrape_errors(prometheus: Prometheus) -> dict[str, str]:
    """Each failing target's last scrape error, as Prometheus reports it."""
    reply = prometheus.api("/api/v1/targets")
    assert isinstance(reply, dict), reply
    active = reply["data"]["activeTargets"]
    return {t["labels"]["instance"]: t["lastError"] for t in active if t["lastError"]}


@pytest.fixture
def named_fleet(start_redis, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A config of eight real Redis servers named cache-0 .. cache-7."""
    servers: list[RedisServer] = [start_redis() for _ in NAMES]
    lines = ["targets:"]
    for name, server in zip(NAMES, servers, strict=True):
        lines += [f"  - uri: {server.uri}", f"    name: {name}"]
    config = tmp_path / "cachescope.yml"
    config.write_text("\n".join(lines) + "\n")
    return config


def test_hashmod_jobs_over_two_sharded_replicas_scrape_every_target_exactly_once(
    named_fleet: Path,
    start_exporter,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    replicas = [
        start_exporter("--config.file", str(named_fleet), "--shard", f"{i}/2") for i in (0, 1)
    ]
    targets = tmp_path / "targets.yml"
    targets.write_text(yaml.safe_dump([{"targets": NAMES}]))
    prometheus = HashmodPrometheus(tmp_path, hashmod_jobs(replicas, targets))
    try:
        # A target's `up` and its redis_up come from the same scrape, stored together.
        wait_for(lambda: len(prometheus.query("up")) == len(NAMES), 30, "a scrape of each")
        failed = {s["metric"]["instance"] for s in prometheus.query("up == 0")}
        assert failed == set(), f"scrapes failed: {scrape_errors(prometheus)}"
        series = prometheus.query("redis_up")
        assert Counter(s["metric"]["instance"] for s in series) == Counter(NAMES)
        assert all(s["value"][1] == "1" for s in series)
        # The case this guards: a target sent by hashmod to a replica outside whose
        # --shard slice it lies (decided by the names, so it cannot vary between runs).
        jobs = {s["metric"]["instance"]: int(s["metric"]["job"][-1]) for s in series}
        assert any(not in_shard(name, Shard(index, 2)) for name, index in jobs.items())
    finally:
        prometheus.stop()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    made = Cluster(size=3, replicas=0)
    try:
        yield made
    finally:
        made.stop()


def test_metrics_replicas_split_configured_targets_and_a_clusters_nodes_by_name(
    cluster: Cluster,
    start_redis,
    start_exporter,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    servers: list[RedisServer] = [start_redis() for _ in range(4)]
    config = tmp_path / "cachescope.yml"
    config.write_text(
        "targets:\n"
        + "".join(f"  - uri: {server.uri}\n" for server in servers)
        + f"  - uri: redis://127.0.0.1:{cluster.nodes[0].port}\n"
        "    name: orders\n"
        "    discover: {kind: cluster, interval: 200ms}\n"
    )
    count = 3
    replicas = [
        start_exporter("--config.file", str(config), "--shard", f"{i}/{count}")
        for i in range(count)
    ]
    nodes = {f"127.0.0.1:{node.port}" for node in cluster.nodes}
    expected = {f"127.0.0.1:{server.port}" for server in servers} | nodes

    def watched() -> list[list[str]]:
        return [
            [labels["instance"] for name, labels, _ in r.metrics().samples if name == "redis_up"]
            for r in replicas
        ]

    wait_for(lambda: set(sum(watched(), [])) == expected, 30, f"all nodes found: {watched()}")
    seen = watched()
    assert Counter(sum(seen, [])) == Counter(expected)  # each target on exactly one replica
    for index, instances in enumerate(seen):
        # Spread by a hash of each name, nodes as configured targets: not all on one replica.
        assert set(instances) == {n for n in expected if in_shard(n, Shard(index, count))}
    # Every replica discovered the whole cluster, so it can serve any node on /scrape.
    for replica in replicas:
        assert replica.metrics().value("cachescope_discovery_targets", seed="orders") == 3
