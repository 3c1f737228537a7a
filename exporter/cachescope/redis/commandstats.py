"""Per-command statistics from INFO: calls, time, failures and latency percentiles.

    redis_commands_total{cmd="get"} 100
    redis_commands_duration_seconds_total{cmd="get"} 0.000412
    redis_latency_percentiles_usec{cmd="get",quantile="99"} 3.007
    redis_latency_percentiles_usec_sum{cmd="get"} 412
    redis_latency_percentiles_usec_count{cmd="get"} 100

A busy server reports dozens of commands, four to six series each: the
largest share of a scrape's samples, so values go out as the text INFO gave
them wherever that text is already a valid sample value.
"""

from __future__ import annotations

from cachescope.exposition import COUNTER, MetricSet, format_value, number_text
from cachescope.redis.parse import parse_kv

_COUNTS = (
    ("calls", "redis_commands_total", "Calls per command."),
    ("rejected_calls", "redis_commands_rejected_calls_total", "Calls rejected before running."),
    ("failed_calls", "redis_commands_failed_calls_total", "Calls that failed while running."),
)
_LATENCY = "redis_latency_percentiles_usec"
_LATENCY_HELP = "Latency percentiles per command, µs."


def add_command_stats(
    metrics: MetricSet, commands: list[tuple[str, str]], latencies: list[tuple[str, str]]
) -> None:
    """`cmdstat_<cmd>` and `latency_percentiles_usec_<cmd>` lines, as (cmd, value) pairs."""
    add_text = metrics.add_text
    totals: dict[str, tuple[str, str]] = {}  # cmd -> (calls, usec) as text, for the summaries
    for cmd, value in commands:
        stats = parse_kv(value)
        rendered = metrics.labels((("cmd", cmd),))
        for stat, name, help_ in _COUNTS:
            text = number_text(stats.get(stat, ""))
            if text is not None:
                add_text(name, COUNTER, help_, text, rendered)
            elif stat == "calls":
                add_text(name, COUNTER, help_, "0", rendered)
        usec = number_text(stats.get("usec", "")) or "0"
        seconds = format_value(float(usec) / 1e6)
        add_text(
            "redis_commands_duration_seconds_total",
            COUNTER,
            "Time spent per command.",
            seconds,
            rendered,
        )
        totals[cmd] = (number_text(stats.get("calls", "")) or "0", usec)
    for cmd, value in latencies:
        quantiles = []
        for part in value.split(","):
            name, _, number = part.partition("=")
            text = number_text(number)
            if name.startswith("p") and text is not None:
                quantiles.append((name[1:], text))
        calls, usec = totals.get(cmd, ("0", "0"))
        metrics.add_summary(
            _LATENCY, _LATENCY_HELP, quantiles, calls, usec, metrics.labels((("cmd", cmd),))
        )
