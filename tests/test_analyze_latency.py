"""analyze judges a command's latency as the alert does: on its p99 where Redis has buckets.

RedisCommandLatencyHigh fires on the windowed p99 from LATENCY HISTOGRAM (Redis 7+) and on
the average only where the server has no histogram. A command whose calls are mostly fast
with one in fifty slow has an average far below the threshold and a p99 far above it:
analyze must see what the alert sees, from the buckets' growth during its interval.
"""

from __future__ import annotations

from typing import Any

import pytest
from cachescope.analyze.latency import quantile
from servers import RedisServer
from test_analyze import analyze_json, background, by_alert
from test_latency_live import FAST, SLOW, calibrate

INF = float("inf")


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        # 100 calls: 90 at or under 4 µs, 10 between 4 and 8: the p99 is 9/10 of the way.
        (0.99, [(4.0, 90.0), (8.0, 100.0), (INF, 100.0)], 7.6),
        (0.5, [(4.0, 90.0), (8.0, 100.0), (INF, 100.0)], 4 * 50 / 90),  # from 0 under the first
        (0.99, [(4.0, 90.0), (8.0, 90.0), (INF, 100.0)], 8.0),  # in +Inf: the highest bound
        (0.99, [(4.0, 0.0), (INF, 0.0)], None),  # no calls in the interval
        (0.99, [(4.0, 3.0), (8.0, 5.0)], None),  # no +Inf bucket: not a histogram
        (0.5, [(4.0, 60.0), (8.0, 50.0), (INF, 100.0)], 4 * 50 / 60),  # made monotonic
    ],
)
def test_quantile_reads_buckets_as_histogram_quantile(
    q: float, buckets: list[tuple[float, float]], expected: float | None
) -> None:
    assert quantile(q, buckets) == pytest.approx(expected)


def test_rare_slow_calls_fire_on_the_p99_that_the_average_hides(
    redis_server: RedisServer,
) -> None:
    client = redis_server.client()
    loops = calibrate(client)  # a busy loop of ~40 ms on this host, measured by Redis
    worker = redis_server.client()

    def one_slow_in_fifty() -> None:
        for _ in range(49):
            worker.eval(FAST, 0)
        worker.eval(SLOW, 0, loops)

    before: dict[str, Any] = client.info("commandstats")["cmdstat_eval"]
    with background(one_slow_in_fifty):
        code, report = analyze_json("--interval", "3s", redis_server.uri)
    after: dict[str, Any] = client.info("commandstats")["cmdstat_eval"]
    average_ms = (after["usec"] - before["usec"]) / (after["calls"] - before["calls"]) / 1000
    assert average_ms < 5, f"the average ({average_ms:.1f} ms) must stay under the threshold"
    finding = by_alert(report).get("RedisCommandLatencyHigh")
    assert finding is not None, report["recommendations"]
    assert finding["issue"].startswith("eval takes ")
    assert "at the 99th percentile" in finding["issue"]
    p99_ms = float(finding["issue"].split()[2])
    assert p99_ms > 10, finding["issue"]
    assert code in (0, 1), report  # a warning's finding; the exit code keeps its meaning


def test_fast_calls_only_give_no_latency_finding(redis_server: RedisServer) -> None:
    worker = redis_server.client()
    with background(lambda: worker.eval(FAST, 0)):
        _, report = analyze_json("--interval", "2s", redis_server.uri)
    assert "RedisCommandLatencyHigh" not in by_alert(report)
