"""Per-command latency histograms from `LATENCY HISTOGRAM` (Redis 7.0+), named as redis_exporter.

    redis_commands_latencies_usec_bucket{cmd="get",le="4"} 40
    redis_commands_latencies_usec_bucket{cmd="get",le="8"} 50
    redis_commands_latencies_usec_bucket{cmd="get",le="+Inf"} 50
    redis_commands_latencies_usec_sum{cmd="get"} 194
    redis_commands_latencies_usec_count{cmd="get"} 50

Unlike INFO's percentiles, buckets add up: across the nodes of a cluster and over
any window (`rate(..._bucket[5m])`). Redis answers (in RESP2) a flat array of
command name, then `calls <n> histogram_usec <bound count ...>`, where the
counts are already cumulative and the bounds are microseconds, listed from the
first non-empty bucket on. Only commands that were called appear. The parser is
pure and bounded: a server that lists thousands of names, or nests where a
number belongs, costs at most MAX_COMMANDS histograms of MAX_BUCKETS buckets.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import GAUGE, HISTOGRAM

NAME = "redis_commands_latencies_usec"
HELP = "A histogram of latencies per command"  # redis_exporter's help text
# Redis 8 has about 240 commands and 150 subcommands, and a busy server calls a few
# dozen of them: 200 keeps every command of real traffic, and a hostile or odd
# server to ~5,000 series per target. The busiest commands are kept.
MAX_COMMANDS = 200
# Powers of two from 1 µs to Redis' cap of 1 s are 21 buckets.
MAX_BUCKETS = 64
_MAX_NAME = 100  # longer than any Redis command|subcommand name
LEFT_OUT = "cachescope_command_latencies_left_out"


@dataclass(frozen=True, slots=True)
class CommandHistogram:
    """One command's histogram: cumulative counts by upper bound in microseconds."""

    cmd: str
    calls: int
    buckets: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Histograms:
    """What one reply gave: the histograms kept, and how many commands were left out, why."""

    commands: tuple[CommandHistogram, ...] = ()
    over_cap: int = 0  # beyond MAX_COMMANDS: the least called
    malformed: int = 0  # not the shape Redis writes


def parse_latency_histogram(reply: object, limit: int = MAX_COMMANDS) -> Histograms:
    """The histograms of a `LATENCY HISTOGRAM` reply, the `limit` busiest; never raises."""
    if not isinstance(reply, list):
        return Histograms(malformed=1 if reply is not None else 0)
    pairs = len(reply) // 2
    entries: list[tuple[int, str, list[object]]] = []
    malformed = len(reply) % 2
    for index in range(pairs):
        entry = _entry(reply[2 * index], reply[2 * index + 1])
        if entry is None:
            malformed += 1
        elif entry[0] > 0:
            entries.append(entry)
    kept: list[CommandHistogram] = []
    for calls, cmd, flat in heapq.nsmallest(limit, entries, key=lambda e: (-e[0], e[1])):
        buckets = _buckets(flat, calls)
        if buckets is None:
            malformed += 1
        else:
            kept.append(
                CommandHistogram(cmd, max(calls, buckets[-1][1] if buckets else 0), buckets)
            )
    return Histograms(tuple(kept), max(0, len(entries) - limit), malformed)


def _entry(name: object, details: object) -> tuple[int, str, list[object]] | None:
    """(calls, command, flat buckets) of one command, or None if it is not Redis' shape."""
    if not isinstance(name, bytes) or not 0 < len(name) <= _MAX_NAME:
        return None
    if not isinstance(details, list) or len(details) != 4:
        return None
    label, calls, key, flat = details
    if label != b"calls" or key != b"histogram_usec":
        return None
    if calls.__class__ is not int or calls < 0 or not isinstance(flat, list):
        return None
    return calls, name.decode("utf-8", "replace").lower(), flat


def _buckets(flat: list[object], calls: int) -> tuple[tuple[int, int], ...] | None:
    """Cumulative (bound, count) pairs, checked to rise as Prometheus needs; None if not."""
    if len(flat) % 2 or len(flat) > 2 * MAX_BUCKETS:
        return None
    pairs: list[tuple[int, int]] = []
    last_bound, last_count = 0, 0
    for index in range(0, len(flat), 2):
        bound, count = flat[index], flat[index + 1]
        if bound.__class__ is not int or count.__class__ is not int:
            return None
        if bound <= last_bound or count < last_count:
            return None
        pairs.append((bound, count))
        last_bound, last_count = bound, count
    return tuple(pairs)


def usec_by_command(fields: dict[str, str]) -> dict[str, int]:
    """INFO commandstats' usec per command, subcommands also added to their container.

    redis_exporter takes a histogram's `_sum` from here (LATENCY HISTOGRAM has none),
    adding `config|get` and the like to `config`; so do we, for the same numbers.
    """
    totals: dict[str, int] = {}
    for key, value in fields.items():
        if not key.startswith("cmdstat_"):
            continue
        start = value.find("usec=")
        if start < 0:
            continue
        digits = value[start + 5 :].split(",", 1)[0]
        if not digits.isdecimal():
            continue
        cmd = key[8:]
        totals[cmd] = totals.get(cmd, 0) + int(digits)
        if "|" in cmd:
            container = cmd.split("|", 1)[0]
            totals[container] = totals.get(container, 0) + int(digits)
    return totals


def add_histograms(metrics: MetricSet, reply: object, fields: dict[str, str]) -> None:
    """The histogram family, and the commands left out (0 when none was)."""
    parsed = parse_latency_histogram(reply)
    usec = usec_by_command(fields) if parsed.commands else {}
    family = metrics.family(NAME, HISTOGRAM, HELP)
    for command in parsed.commands:
        labels = metrics.labels((("cmd", command.cmd),))
        family.add_histogram(labels, command.buckets, usec.get(command.cmd, 0), command.calls)
    left_out = metrics.family(
        LEFT_OUT,
        GAUGE,
        f"Commands of LATENCY HISTOGRAM left out of the last scrape: over_cap (more than "
        f"{MAX_COMMANDS} called commands; the least called go) or malformed.",
    )
    left_out.add(parsed.over_cap, (("reason", "over_cap"),))
    left_out.add(parsed.malformed, (("reason", "malformed"),))
