"""A slow command on one node of a live Redis Cluster raises the cluster's p99 for it.

Three real primaries, discovered by cachescope; a real Prometheus scrapes it every second
with the rules rendered from the defaults (every `for` 0s). Every node runs a fast EVAL
twenty times a second; then one node also runs a Lua busy loop of about 40 ms. The
LATENCY HISTOGRAM buckets (Redis 7+) summed over the nodes give a p99 of the whole cluster,
which must rise well above the fast baseline, and RedisCommandLatencyHigh's condition must
hold for the slow node and for no other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from cachescope.rules import thresholds
from cachescope.rules.render import render_documents
from prometheus import Prometheus, render_rules
from servers import StartExporter, StartRedis, wait_for
from test_rules_live import live_thresholds
from topology_servers import Cluster

pytestmark = pytest.mark.live

FAST = "return 1"
# Redis runs a script to its end while every other client waits: a busy loop is a slow call.
SLOW = "local n = 0 for i = 1, tonumber(ARGV[1]) do n = n + i end return n"
SLOW_USEC = 40_000  # well above the alert's 10 ms, so the p99 lands in a bucket above it
# The query of the issue: the cluster's p99 per command from its nodes' buckets, in µs.
CLUSTER_P99 = (
    "histogram_quantile(0.99, sum by (le, cmd)"
    ' (rate(redis_commands_latencies_usec_bucket{cluster="orders"}[1m])))'
)


def eval_usec(client: redis.Redis) -> float:
    """Server time spent in EVAL so far (INFO commandstats), in µs."""
    stats: dict[str, Any] = client.info("commandstats")
    return float(stats.get("cmdstat_eval", {}).get("usec", 0))


def calibrate(client: redis.Redis) -> int:
    """Loop iterations that keep this host's Redis busy for SLOW_USEC, measured by Redis."""
    loops = 200_000
    while loops < 2_000_000_000:
        before = eval_usec(client)
        client.eval(SLOW, 0, loops)
        if eval_usec(client) - before >= SLOW_USEC:
            return loops
        loops *= 2
    raise AssertionError("the busy loop never took 40 ms")


def alert_condition() -> str:
    """RedisCommandLatencyHigh's expression as rendered for the live Prometheus."""
    values = thresholds.load()
    values["selector"] = 'job="cachescope"'
    groups = yaml.safe_load(render_documents(values, "prometheus")["redis.rules.yml"])["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    return str(next(r["expr"] for r in rules if r.get("alert") == "RedisCommandLatencyHigh"))


def cmd_values(prom: Prometheus, expr: str, cmd: str, label: str = "instance") -> dict[str, float]:
    """The `label` of each series of `expr` for command `cmd` -> its value."""
    return {
        s["metric"].get(label, ""): float(s["value"][1])
        for s in prom.query(expr)
        if s["metric"].get("cmd") == cmd
    }


def cluster_p99(prom: Prometheus) -> float:
    """The issue's query for EVAL: the p99 of all the cluster's calls, in µs (NaN: none)."""
    return cmd_values(prom, CLUSTER_P99, "eval", "cmd").get("eval", float("nan"))


class Load:
    """Fast EVALs on every node, ten rounds a second; slow ones on `slow_node` once asked."""

    def __init__(self, cluster: Cluster, slow_node: int, loops: int) -> None:
        self.clients = [node.client() for node in cluster.nodes]
        self.slow_client, self.loops = self.clients[slow_node], loops
        self.stop, self.slow = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        rounds = 0
        while not self.stop.is_set():
            for client in self.clients:
                client.eval(FAST, 0)
                client.eval(FAST, 0)
            rounds += 1
            if self.slow.is_set() and rounds % 2 == 0:  # 5/s, a fifth of the slow node's CPU
                self.slow_client.eval(SLOW, 0, self.loops)
            self.stop.wait(0.1)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    started = Cluster(size=3, replicas=0)
    yield started
    started.stop()


def test_slow_script_on_one_node_raises_the_cluster_p99_and_fires_the_latency_alert(
    cluster: Cluster, start_redis: StartRedis, start_exporter: StartExporter, tmp_path: Path
) -> None:
    loops = calibrate(start_redis().client())
    config = tmp_path / "cachescope.yml"
    seed = cluster.nodes[0]
    config.write_text(
        f"targets:\n  - uri: redis://127.0.0.1:{seed.port}\n    name: orders\n"
        "    discover: {kind: cluster, interval: 1s}\n"
    )
    exporter = start_exporter("--config.file", str(config))
    rules = render_rules(live_thresholds(tmp_path / "live.yml"), tmp_path / "rules")
    prom = Prometheus(tmp_path, exporter.port, rules)
    slow_node = cluster.nodes[1]
    load = Load(cluster, slow_node=1, loops=loops)
    load.thread.start()
    try:
        wait_for(lambda: cluster_p99(prom) > 0, 60, "a cluster p99 for eval")
        baseline = cluster_p99(prom)
        assert baseline < 10_000, baseline  # fast: microseconds, far below the 10 ms alert
        assert not cmd_values(prom, alert_condition(), "eval")

        load.slow.set()
        wait_for(
            lambda: cluster_p99(prom) > max(10_000, 10 * baseline),
            90,
            "the cluster p99 of eval to rise above 10 ms",
        )
        whole = "cluster_cmd:redis_command_latency_seconds:p99_rate5m"
        wait_for(lambda: cmd_values(prom, whole, "eval", "cluster")["orders"] > 0.01, 60, whole)
        wait_for(lambda: cmd_values(prom, alert_condition(), "eval"), 60, "the alert condition")
        firing = cmd_values(prom, alert_condition(), "eval")
        assert list(firing) == [f"127.0.0.1:{slow_node.port}"], firing
        assert all(value > 0.01 for value in firing.values()), firing
    finally:
        load.stop.set()
        load.thread.join(5)
        prom.stop()
