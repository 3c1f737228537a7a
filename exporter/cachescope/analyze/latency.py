"""A command's latency over analyze's interval, from LATENCY HISTOGRAM's buckets.

Two readings of `redis_commands_latencies_usec_bucket` give each bucket's growth, read
as Prometheus reads counters (a reset counts from zero); `quantile` then takes the
99th percentile of the interval's calls as histogram_quantile does, so that `analyze`
judges RedisCommandLatencyHigh on the figure its alert uses.
"""

from __future__ import annotations

from cachescope.analyze.sampling import Reading

Buckets = dict[float, float]  # cumulative count by upper bound (inf for +Inf)


def buckets_by_cmd(reading: Reading) -> dict[str, Buckets]:
    """LATENCY HISTOGRAM's buckets per command, in one pass over the series."""
    found: dict[str, Buckets] = {}
    for labels, value in reading.series("redis_commands_latencies_usec_bucket"):
        try:
            bound = float(labels.get("le", ""))
        except ValueError:
            continue
        found.setdefault(labels.get("cmd", ""), {})[bound] = value
    return found


def increase(before: float, after: float) -> float:
    """A counter's growth between two readings; after a reset (a restart), all of `after`.

    As Prometheus' rate() reads a counter that went back: counted again from zero.
    """
    return after - before if after >= before else after


def growth(before: Buckets | None, after: Buckets | None) -> list[tuple[float, float]]:
    """The interval's (bound, cumulative count) pairs, rising: each bucket's increase."""
    if not after:
        return []
    before = before or {}
    return [
        (bound, increase(before.get(bound, 0.0), count)) for bound, count in sorted(after.items())
    ]


def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The q-quantile of a cumulative histogram, as Prometheus' histogram_quantile reads it.

    Linear within the bucket the rank falls in, from the bound below (0 under the
    first); in the +Inf bucket, the highest finite bound. None without a +Inf bucket
    or without counts.
    """
    if len(buckets) < 2 or buckets[-1][0] != float("inf") or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    below_bound = below_count = 0.0
    for bound, count in buckets:
        count = max(count, below_count)  # monotonic, as histogram_quantile makes it
        if count >= rank:
            if bound == float("inf"):
                return below_bound
            if count == below_count:
                return bound
            return below_bound + (bound - below_bound) * (rank - below_count) / (
                count - below_count
            )
        below_bound, below_count = bound, count
    return None
