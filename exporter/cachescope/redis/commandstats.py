"""Per-command statistics from INFO: calls, time, failures and latency percentiles.

    redis_commands_total{cmd="get"} 100
    redis_commands_duration_seconds_total{cmd="get"} 0.000412
    redis_latency_percentiles_usec{cmd="get",quantile="99"} 3.007
    redis_latency_percentiles_usec_sum{cmd="get"} 412
    redis_latency_percentiles_usec_count{cmd="get"} 100

A busy server reports dozens of commands, four to six series each: the
largest share of a scrape's samples, so values go out as the text INFO gave
them wherever that text is already a valid sample value, and each command's
labels are rendered once for all its families.
"""

from __future__ import annotations

import re

from cachescope.exposition.families import LabelText, MetricSet, Quantiles, quantiles
from cachescope.exposition.textformat import COUNTER, SUMMARY, format_value, number_text
from cachescope.redis.parse import parse_kv
from cachescope.textcache import TextCache

_LATENCY = "redis_latency_percentiles_usec"
# Redis 6.2 and later write every command's statistics in this shape (before 7.0
# without the last two); whatever else a server writes goes through parse_kv.
_USUAL = re.compile(
    r"calls=([0-9]+),usec=([0-9]+),usec_per_call=[^,]*"
    r"(?:,rejected_calls=([0-9]+),failed_calls=([0-9]+))?"
)
Stats = tuple[str, str, str | None, str | None]  # calls, usec, rejected, failed as text
Totals = tuple[str, str, LabelText]  # calls, usec, and the labels of a command


def add_command_stats(
    metrics: MetricSet, commands: list[tuple[str, str]], latencies: list[tuple[str, str]]
) -> None:
    """`cmdstat_<cmd>` and `latency_percentiles_usec_<cmd>` lines, as (cmd, value) pairs."""
    if not commands and not latencies:
        return
    calls = metrics.family("redis_commands_total", COUNTER, "Calls per command.")
    rejected = metrics.family(
        "redis_commands_rejected_calls_total", COUNTER, "Calls rejected before running."
    )
    failed = metrics.family(
        "redis_commands_failed_calls_total", COUNTER, "Calls that failed while running."
    )
    seconds = metrics.family(
        "redis_commands_duration_seconds_total", COUNTER, "Time spent per command."
    )
    totals: dict[str, Totals] = {}  # for the summaries
    for cmd, value in commands:
        usual = _USUAL.fullmatch(value)
        calls_text, usec, rejected_text, failed_text = usual.groups() if usual else _stats(value)
        labels = metrics.labels((("cmd", cmd),))
        calls.add_text(calls_text, labels)
        if rejected_text is not None:
            rejected.add_text(rejected_text, labels)
        if failed_text is not None:
            failed.add_text(failed_text, labels)
        seconds.add_text(_seconds(usec), labels)
        totals[cmd] = (calls_text, usec, labels)
    if latencies:
        _add_latencies(metrics, latencies, totals)


def _stats(value: str) -> Stats:
    """Calls, usec, rejected and failed calls of a command in any shape ('0' for no calls)."""
    stats = parse_kv(value)
    return (
        number_text(stats.get("calls", "")) or "0",
        number_text(stats.get("usec", "")) or "0",
        number_text(stats.get("rejected_calls", "")),
        number_text(stats.get("failed_calls", "")),
    )


def _seconds(usec: str) -> str:
    """Microseconds as seconds: '412' -> '0.000412', the number float division gives."""
    if len(usec) <= 15 and usec.isascii() and usec.isdecimal():  # exact as a float, too
        digits = usec.rjust(7, "0")
        return f"{digits[:-6]}.{digits[-6:]}"
    return format_value(float(usec) / 1e6)


def _add_latencies(
    metrics: MetricSet, latencies: list[tuple[str, str]], totals: dict[str, Totals]
) -> None:
    """One summary per command: its percentiles, and calls and usec from commandstats."""
    summary = metrics.family(_LATENCY, SUMMARY, "Latency percentiles per command, µs.")
    for cmd, value in latencies:
        calls, usec, labels = totals.get(cmd) or ("0", "0", metrics.labels((("cmd", cmd),)))
        summary.add_summary(labels, _quantiles(value), usec, calls)


# Redis keeps latencies in histograms of two significant digits: the same few
# values ('p50=1.003,p99=3.007,p99.9=27.007') come back for many commands,
# scrape after scrape, so each value's quantiles are rendered once.
_QUANTILES: TextCache[str, Quantiles] = TextCache(10_000, 4 << 20)


def _quantiles(value: str) -> Quantiles:
    """The quantiles of a value like 'p50=1.003,p99=3.007', rendered."""
    rendered = _QUANTILES.get(value)
    if rendered is None:
        rendered = quantiles(_percentiles(value))
        if len(value) <= 256:  # short values only: a hostile server's long lines cost no memory
            chars = len(value) + sum(map(len, rendered)) + 60 * len(rendered)
            _QUANTILES.remember(value, rendered, chars)
    return rendered


# Redis writes 'p50=1.003,p99=3.007,p99.9=27.007': numbers that need neither
# checking nor escaping. A value with any other part is read part by part.
_PERCENTILE = re.compile(r"(?:^|,)p([0-9.]+)=([0-9]+\.?[0-9]*|\.[0-9]+)(?=,|\Z)")


def _percentiles(value: str) -> list[tuple[str, str]]:
    """(quantile, value as sample text) of each `p<q>=<value>`."""
    pairs: list[tuple[str, str]] = _PERCENTILE.findall(value)
    if len(pairs) == value.count(",") + 1:  # every part matched
        return pairs
    pairs = []
    for part in value.split(","):
        name, _, number = part.partition("=")
        text = number_text(number)
        if name.startswith("p") and text is not None:
            pairs.append((name[1:], text))
    return pairs
