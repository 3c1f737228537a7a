"""Prometheus' scrape timeout header: a target slower than it costs its own series, not all."""

from __future__ import annotations

import math
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import hostile
import pytest
import yaml
from cachescope.web.wire import MAX_SCRAPE_TIMEOUT, scrape_budget
from cachescope.workers.pool import share
from hostile import HostileServer
from hypothesis import given
from hypothesis import strategies as st
from prometheus import Prometheus
from servers import Exporter, Exposition, RedisServer, wait_for

HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
SLOW_TARGET_TIMEOUT = "30s"  # far above Prometheus' 2 s: the old deadline was this plus 1 s
# The old front answered after SLOW_TARGET_TIMEOUT; the new one within about 2 s.
CLIENT_PATIENCE = 12.0


@pytest.mark.parametrize(
    ("value", "budget"),
    [("2", 1.8), ("10", 9.5), ("60", 59.5), ("0.5", 0.45), (" 3 ", 2.7), ("1e1", 9.5)],
)
def test_the_budget_is_prometheus_timeout_less_a_margin(value: str, budget: float) -> None:
    assert scrape_budget({"x-prometheus-scrape-timeout-seconds": value}) == pytest.approx(budget)


@pytest.mark.parametrize(
    "value", ["-1", "0", "nan", "NaN", "inf", "-inf", "1e999", "abc", "", "2s", "99999", "0x10"]
)
def test_a_hostile_timeout_header_is_ignored(value: str) -> None:
    assert scrape_budget({"x-prometheus-scrape-timeout-seconds": value}) is None


def test_no_header_no_budget() -> None:
    assert scrape_budget({}) is None


@given(st.text(max_size=40))
def test_any_timeout_header_gives_none_or_a_sane_budget(value: str) -> None:
    budget = scrape_budget({"x-prometheus-scrape-timeout-seconds": value})
    assert budget is None or (math.isfinite(budget) and 0 < budget < MAX_SCRAPE_TIMEOUT)


@pytest.fixture(scope="module")
def good() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hung() -> Iterator[HostileServer]:
    server = HostileServer(hostile.never_answers)
    yield server
    server.stop()


def names_in_each_share(processes: int, prefix: str) -> list[str]:
    """One target name per scraping process (0 is the main one), by the pool's own sharing."""
    found: dict[int, str] = {}
    for i in range(1000):
        found.setdefault(share(f"{prefix}-{i}", processes), f"{prefix}-{i}")
    return [found[index] for index in range(processes)]


def fleet_config(good: RedisServer, hung: HostileServer, processes: int) -> Path:
    """Good targets and hung ones (timeout 30 s), one of each in every scraping process."""
    targets = [{"uri": good.uri, "name": name} for name in names_in_each_share(processes, "good")]
    targets += [
        {"uri": f"redis://{hung.address}", "name": name, "timeout": SLOW_TARGET_TIMEOUT}
        for name in names_in_each_share(processes, "hung")
    ]
    path = Path(tempfile.mkdtemp(prefix="cachescope-deadline-")) / "fleet.yml"
    path.write_text(yaml.safe_dump({"targets": targets}))
    return path


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, str, float]:
    started = time.monotonic()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=CLIENT_PATIENCE) as reply:
        return reply.status, reply.read().decode(), time.monotonic() - started


@pytest.mark.live
@pytest.mark.parametrize("processes", [1, 2], ids=["in-process", "worker-processes"])
def test_a_target_slower_than_prometheus_costs_only_its_own_series(
    good: RedisServer, hung: HostileServer, processes: int
) -> None:
    config = fleet_config(good, hung, processes)
    exporter = Exporter("--config.file", str(config), "--scrape.processes", str(processes))
    try:
        # A worker process started by the first scrape may take longer than the 2 s to
        # start: its targets are down in that one; the worker is kept, not replaced.
        get(exporter.port, "/metrics", {HEADER: "2"})
        status, body, _ = get(exporter.port, "/metrics", {HEADER: "2"})
    finally:
        exporter.stop()
    assert status == 200
    metrics = Exposition(body)
    for name in names_in_each_share(processes, "good"):
        assert metrics.value("redis_up", instance=name) == 1.0
    for name in names_in_each_share(processes, "hung"):
        assert metrics.value("redis_up", instance=name) == 0.0
        assert metrics.scrape_errors(name)["timeout"] >= 1
    # A worker late only by the client's deadline is waited for at the next scrape.
    assert metrics.value("cachescope_scrape_worker_restarts_total") == 0


@pytest.mark.live
def test_scrape_of_one_slow_target_is_capped_by_the_header(
    good: RedisServer, hung: HostileServer
) -> None:
    config = fleet_config(good, hung, 1)
    exporter = Exporter("--config.file", str(config))
    (hung_name,) = names_in_each_share(1, "hung")
    try:
        status, body, took = get(exporter.port, f"/scrape?target={hung_name}", {HEADER: "1"})
        assert status == 200 and Exposition(body).get("redis_up") == [0.0]
        assert Exposition(body).value("cachescope_scrape_errors_total", error="timeout") >= 1
        # Hostile values are ignored: the target's own timeout applies, the answer is whole.
        (good_name,) = names_in_each_share(1, "good")
        for value in ("-1", "nan", "abc", "1e999", "0", "99999999", "\t"):
            status, body, _ = get(exporter.port, f"/scrape?target={good_name}", {HEADER: value})
            assert status == 200 and Exposition(body).get("redis_up") == [1.0], value
    finally:
        exporter.stop()


class ScrapingPrometheus(Prometheus):
    """prometheus scraping one exporter every 2 s with a 2 s scrape timeout."""

    def __init__(self, workdir: Path, exporter_port: int) -> None:
        job = {
            "job_name": "cachescope",
            "honor_labels": True,
            "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
        }
        config = {"global": {"scrape_interval": "2s", "scrape_timeout": "2s"}}
        self.launch(workdir, config | {"scrape_configs": [job]})

    def by_instance(self, expr: str) -> dict[str, float]:
        """Each series of `expr` now, by its instance label (the exporter's for `up`)."""
        return {r["metric"].get("instance", ""): float(r["value"][1]) for r in self.query(expr)}


@pytest.mark.live
def test_prometheus_with_a_2s_timeout_gets_every_good_target_and_gzip(
    good: RedisServer, hung: HostileServer, tmp_path: Path
) -> None:
    config = fleet_config(good, hung, 1)
    exporter = Exporter("--config.file", str(config))
    prometheus = ScrapingPrometheus(tmp_path, exporter.port)
    (good_name,), (hung_name,) = names_in_each_share(1, "good"), names_in_each_share(1, "hung")
    try:

        def scraped() -> bool:
            redis_up = prometheus.by_instance("redis_up")
            return redis_up.get(good_name) == 1.0 and redis_up.get(hung_name) == 0.0

        wait_for(scraped, 60, f"prometheus to see both targets: {prometheus.log()}")
        assert set(prometheus.by_instance('up{job="cachescope"}').values()) == {1.0}
        # The exporter counts the responses it gzipped; only Prometheus scrapes it here.
        wait_for(
            lambda: prometheus.by_instance('cachescope_http_responses_total{encoding="gzip"} > 0'),
            30,
            "a gzipped response counted",
        )
    finally:
        prometheus.stop()
        exporter.stop()
