"""Discovery runs off the request path: a hung seed costs its own thread, never /metrics.

The README promises that a target never delays the others beyond its own
timeout. Discovery used to ask its seed (then every node it knew, one after
another, each with the full timeout) inside /metrics; these tests hold the
exporter to the promise with seeds that accept and never answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import hostile
import pytest
from cachescope.config.loader import parse_config
from cachescope.fleet import Fleet
from hostile import HostileServer
from servers import StartExporter, wait_for

TIMEOUT = 1.0
# One target timeout for the scrape of the hung nodes, plus a margin: the old code took
# four timeouts here (the seed, two known nodes, then the scrape), so 2.5 s sits 2x from both.
LIMIT = 2.5
PASSWORD = "disc-bg-Secret-pw-7781"


class FakeCluster:
    """Three fake cluster nodes that list each other in CLUSTER NODES until `hang` is set."""

    def __init__(self) -> None:
        self.hang = threading.Event()
        self.nodes = [HostileServer(hostile.redis_like(self._answer)) for _ in range(3)]

    def _answer(self, command: list[bytes]) -> bytes | None:
        if self.hang.is_set():
            return None  # accept, read, never answer
        if [word.upper() for word in command[:2]] == [b"CLUSTER", b"NODES"]:
            lines = "".join(
                f"{i:040d} 127.0.0.1:{node.port}@{node.port + 10000} master - 0 0 1 connected\n"
                for i, node in enumerate(self.nodes)
            )
            return b"$%d\r\n%s\r\n" % (len(lines), lines.encode())
        return b"-ERR unknown command\r\n"

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


@pytest.fixture
def fake_cluster() -> Iterator[FakeCluster]:
    made = FakeCluster()
    yield made
    made.stop()


def timed_metrics(exporter) -> tuple[float, str]:  # type: ignore[no-untyped-def]
    """Seconds /metrics took, and its body."""
    started = time.monotonic()
    status, body = exporter.get("/metrics")
    assert status == 200
    return time.monotonic() - started, body


def test_a_cluster_that_stops_answering_delays_metrics_by_one_timeout_only(
    start_exporter: StartExporter, tmp_path: Path, fake_cluster: FakeCluster
) -> None:
    seed = fake_cluster.nodes[0]
    config = tmp_path / "cluster.yml"
    config.write_text(
        f"targets:\n  - uri: redis://{seed.address}\n    name: orders\n"
        f"    timeout: {TIMEOUT}s\n    discover: {{kind: cluster, interval: 200ms}}\n"
    )
    exporter = start_exporter("--config.file", str(config))
    nodes = {node.address for node in fake_cluster.nodes}
    wait_for(
        lambda: all(f'instance="{n}"' in exporter.get("/metrics")[1] for n in nodes),
        what="the fake cluster's nodes to be discovered",
    )

    fake_cluster.hang.set()
    for _ in range(2):
        took, body = timed_metrics(exporter)
        assert took < LIMIT, f"/metrics took {took:.1f}s with a hung cluster"
        # The last topology stands: every node is still watched, and shows as down.
        for node in nodes:
            assert f'redis_up{{instance="{node}",cluster="orders"}} 0' in body

    def failed_round_counted() -> bool:
        return exporter.metrics().value("cachescope_discovery_errors_total", seed="orders") >= 1

    wait_for(failed_round_counted, what="a failed discovery round to be counted")
    age = exporter.metrics().value("cachescope_discovery_age_seconds", seed="orders")
    assert age > 0.2  # the last success was before the hang, more than one interval ago


@pytest.mark.parametrize("kind", ["cluster", "sentinel"])
def test_three_seeds_that_never_answer_cost_metrics_one_timeout(
    start_exporter: StartExporter, tmp_path: Path, kind: str
) -> None:
    seeds = [HostileServer(hostile.never_answers) for _ in range(3)]
    try:
        config = tmp_path / "seeds.yml"
        config.write_text(
            "targets:\n"
            + "".join(
                f"  - uri: redis://{seed.address}\n    name: seed-{i}\n"
                f"    timeout: {TIMEOUT}s\n    discover: {{kind: {kind}, interval: 200ms}}\n"
                for i, seed in enumerate(seeds)
            )
        )
        exporter = start_exporter("--config.file", str(config))
        for _ in range(2):
            took, body = timed_metrics(exporter)
            assert took < LIMIT, f"/metrics took {took:.1f}s with three hung seeds"
            for i in range(3):  # with no node known, a seed is watched itself
                assert f'redis_up{{instance="seed-{i}"}} 0' in body
        started = time.monotonic()
        assert exporter.get("/discover")[0] == 200
        assert time.monotonic() - started < LIMIT - TIMEOUT  # reads only: no target, no seed
        metrics = exporter.metrics()
        for i in range(3):
            # Never succeeded: the age counts from when the seed was configured.
            assert metrics.value("cachescope_discovery_age_seconds", seed=f"seed-{i}") > 0
            assert metrics.value("cachescope_discovery_targets", seed=f"seed-{i}") == 0
        # Threads stuck on hung seeds do not hold up a clean shutdown.
        exporter.proc.terminate()
        assert exporter.proc.wait(timeout=10) == 0
    finally:
        for seed in seeds:
            seed.stop()


def test_the_seed_label_is_the_seed_name_never_its_password(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    seed = HostileServer(hostile.never_answers)
    try:
        config = tmp_path / "secret.yml"
        config.write_text(
            f"targets:\n  - uri: redis://:{PASSWORD}@{seed.address}\n    timeout: 500ms\n"
            "    discover: {kind: cluster, interval: 200ms}\n"
        )
        exporter = start_exporter("--config.file", str(config))
        status, body = exporter.get("/metrics")
        assert status == 200
        assert f'cachescope_discovery_age_seconds{{seed="{seed.address}"}}' in body
        assert PASSWORD not in body + exporter.log()
    finally:
        seed.stop()


def discovery_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("discovery-")}


def seeds_config(seeds: list[HostileServer]) -> str:
    return "targets:\n" + "".join(
        f"  - uri: redis://{seed.address}\n    name: s{seed.port}\n    timeout: 500ms\n"
        f"    password: {PASSWORD}\n"  # a fresh Secret on each reload, equal to the last
        "    discover: {kind: cluster, interval: 200ms}\n"
        for seed in seeds
    )


def test_reloads_end_the_threads_of_removed_seeds_and_close_ends_them_all() -> None:
    seeds = [HostileServer(hostile.never_answers) for _ in range(3)]
    before = discovery_threads()
    try:
        fleet = Fleet(parse_config(seeds_config(seeds[:2])))
        try:
            reload_back_and_forth(fleet, seeds, before)
        finally:
            fleet.close()
        wait_for(lambda: discovery_threads() == before, what="every discovery thread to end")
    finally:
        for seed in seeds:
            seed.stop()


def reload_back_and_forth(fleet: Fleet, seeds: list[HostileServer], before: set[str]) -> None:
    """Swap the second seed in and out; only the configured seeds may keep a thread."""
    first = f"discovery-s{seeds[0].port}"
    kept = {t.ident for t in threading.enumerate() if t.name == first}
    for round_ in range(4):
        now = seeds[0:1] + (seeds[1:2] if round_ % 2 else seeds[2:3])
        fleet.reload(parse_config(seeds_config(now)))
        wanted = {f"discovery-s{seed.port}" for seed in now}
        wait_for(
            lambda wanted=wanted: discovery_threads() - before == wanted,  # type: ignore[misc]
            what=f"the discovery threads of {sorted(wanted)} only",
        )
    # An unchanged seed keeps its thread (and its topology) across reloads.
    assert kept and {t.ident for t in threading.enumerate() if t.name == first} == kept
