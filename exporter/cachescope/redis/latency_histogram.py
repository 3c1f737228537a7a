"""Per-command latency histograms from `LATENCY HISTOGRAM` (Redis 7.0+), named as redis_exporter.

    redis_commands_latencies_usec_bucket{cmd="get",le="4"} 40
    redis_commands_latencies_usec_bucket{cmd="get",le="8"} 50
    redis_commands_latencies_usec_bucket{cmd="get",le="+Inf"} 50
    redis_commands_latencies_usec_sum{cmd="get"} 194
    redis_commands_latencies_usec_count{cmd="get"} 50

Unlike INFO's percentiles, buckets add up: across the nodes of a cluster and over
any window (`rate(..._bucket[5m])`). Redis answers (in RESP2) a flat array of
command name, then `calls <n> histogram_usec <bound count ...>`, where the
counts are already cumulative and the bounds are microseconds, listed only where a
bucket holds calls. Only commands that were called appear. Each command goes out on
the whole of LADDER, filled with the running count, so that every node has the same
`le` set for `sum by (le, cmd)`. The parser is pure and bounded: a server that lists
thousands of names, or nests where a number belongs, costs at most MAX_COMMANDS
histograms of len(LADDER) + 1 buckets.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import GAUGE, HISTOGRAM, Labels

NAME = "redis_commands_latencies_usec"
HELP = "A histogram of latencies per command"  # redis_exporter's help text
# The bounds Redis prints (7.0, 8.2, Valkey 8.1 alike): its HDR histogram steps by powers
# of two from 1024 ns to 2^30 ns, each printed as the highest value of that step's
# sub-bucket in whole µs (so 33, not 32; 132, not 131). Redis lists only the bounds whose
# bucket holds calls; exporting all of them keeps `le` the same on every node and from
# one scrape to the next, so a sum over nodes stays cumulative and rate() has no bucket
# born mid-window. Redis clamps calls beyond 1 s to 1 s, so nothing lies above the top.
LADDER: tuple[int, ...] = (1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454)
LADDER += (16908, 33816, 67633, 135266, 270532, 541065, 1073741)
# Redis 8 has about 240 commands and 150 subcommands, and a busy server calls a few
# dozen of them: 200 keeps every command of real traffic, the busiest first. Each costs
# len(LADDER) + 3 = 24 series (buckets, +Inf, _sum, _count): at most 4,800 per target,
# within --limits.max-series (20,000) beside INFO's and commandstats' series.
MAX_COMMANDS = 200
# Redis lists at most len(LADDER) = 21 buckets; 32 leaves room.
MAX_BUCKETS = 32
_MAX_NAME = 100  # longer than any Redis command|subcommand name
LEFT_OUT = "cachescope_command_latencies_left_out"


@dataclass(frozen=True, slots=True)
class CommandHistogram:
    """One command's histogram: cumulative counts by upper bound in microseconds."""

    cmd: str
    calls: int
    bounds: tuple[int, ...]  # rising
    counts: list[int]  # cumulative, as many as bounds

    @property
    def buckets(self) -> tuple[tuple[int, int], ...]:
        """(bound, cumulative count) pairs, as the server listed them."""
        return tuple(zip(self.bounds, self.counts, strict=True))

    def on_ladder(self) -> list[int]:
        """The cumulative count at each bound of LADDER: the running count where Redis is silent.

        A bound off the ladder (another server's, or a hostile one's) counts at the next
        ladder bound up, which stays a true cumulative count; one beyond the top, in +Inf.
        """
        bounds, counts, size = self.bounds, self.counts, len(self.bounds)
        filled: list[int] = []
        index = running = 0
        for top in LADDER:
            while index < size and bounds[index] <= top:
                running = counts[index]
                index += 1
            filled.append(running)
        return filled


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
    seen: set[str] = set()
    malformed = len(reply) % 2
    for index in range(pairs):
        entry = _entry(reply[2 * index], reply[2 * index + 1])
        # A name twice (or two that read the same once lowercased) would be duplicate
        # series, which Prometheus rejects with the whole scrape: the first one stays.
        if entry is None or entry[1] in seen:
            malformed += 1
            continue
        seen.add(entry[1])
        if entry[0] > 0:
            entries.append(entry)
    kept: list[CommandHistogram] = []
    for calls, cmd, flat in heapq.nsmallest(limit, entries, key=lambda e: (-e[0], e[1])):
        buckets = _buckets(flat)
        if buckets is None:
            malformed += 1
            continue
        bounds, cumulative = buckets
        total = max(calls, cumulative[-1] if cumulative else 0)
        kept.append(CommandHistogram(cmd, total, bounds, cumulative))
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


def _buckets(flat: list[object]) -> tuple[tuple[int, ...], list[int]] | None:
    """Bounds and cumulative counts, checked to rise as Prometheus needs; None if not.

    Checked with whole-list operations rather than a loop: this runs for every command
    of every scrape, and a dozen commands of a dozen buckets would cost more than INFO.
    """
    if len(flat) % 2 or len(flat) > 2 * MAX_BUCKETS or not set(map(type, flat)) <= _INT:
        return None
    bounds, cumulative = flat[0::2], flat[1::2]
    if bounds and (bounds[0] <= 0 or cumulative[0] < 0):  # type: ignore[operator]
        return None
    if bounds != sorted(set(bounds)) or cumulative != sorted(cumulative):  # type: ignore[type-var]
        return None
    return tuple(bounds), cumulative  # type: ignore[arg-type,return-value]


_INT = frozenset({int})  # not bool, which is an int too


def _usec(stats: str) -> int | None:
    """`usec=` of a commandstats value ('calls=1,usec=14,usec_per_call=14.00')."""
    start = stats.find("usec=")
    digits = stats[start + 5 :].split(",", 1)[0] if start >= 0 else ""
    return int(digits) if digits.isdecimal() and len(digits) <= 20 else None


class CommandTime:
    """INFO commandstats' usec per command, for a histogram's `_sum`.

    redis_exporter takes `_sum` from here (LATENCY HISTOGRAM has none), and a command
    without its own line gets its subcommands' sum (`config` from `config|get`...);
    that needs a pass over every field, made once and only if asked.
    """

    __slots__ = ("_fields", "_containers")

    def __init__(self, fields: dict[str, str]) -> None:
        self._fields = fields
        self._containers: dict[str, int] | None = None

    def usec(self, cmd: str) -> int:
        own = _usec(self._fields.get("cmdstat_" + cmd, ""))
        if own is not None:
            return own
        if self._containers is None:
            self._containers = {}
            for key, value in self._fields.items():
                if key.startswith("cmdstat_") and "|" in key:
                    container = key[8:].split("|", 1)[0]
                    used = _usec(value) or 0
                    self._containers[container] = self._containers.get(container, 0) + used
        return self._containers.get(cmd, 0)


def add_histograms(metrics: MetricSet, reply: object, fields: dict[str, str]) -> None:
    """The histogram family, and the commands left out (0 when none was)."""
    parsed = parse_latency_histogram(reply)
    time = CommandTime(fields)
    family = metrics.family(NAME, HISTOGRAM, HELP)
    for command in parsed.commands:
        labels = metrics.labels((("cmd", command.cmd),))
        family.add_histogram(
            labels, LADDER, command.on_ladder(), time.usec(command.cmd), command.calls
        )
    left_out = metrics.family(
        LEFT_OUT,
        GAUGE,
        f"Commands of LATENCY HISTOGRAM left out of the last scrape: over_cap (more than "
        f"{MAX_COMMANDS} called commands; the least called go) or malformed (including a "
        f"command named twice, after its first).",
    )
    left_out.add(parsed.over_cap, (("reason", "over_cap"),))
    left_out.add(parsed.malformed, (("reason", "malformed"),))


@dataclass(slots=True)
class _Kept:
    """The last histograms rendered with one set of base labels, and scrapes since."""

    metrics: MetricSet
    since: int = 0


class Sampler:
    """Whether a scrape asks LATENCY HISTOGRAM (every `every`th), and what it exports if not.

    Between two asks the last histograms go out again as they were rendered: the
    buckets are counters, so the repeats read as "no calls yet", and the next ask
    catches up. /metrics (with an instance label) and /scrape (without) render a
    target with other base labels, so each keeps its own; a new role label asks again.
    """

    __slots__ = ("every", "_kept")

    def __init__(self, every: int) -> None:
        self.every = every
        self._kept: dict[Labels, _Kept] = {}

    def due(self, base_labels: Labels) -> bool:
        """Whether this scrape, whose samples get `base_labels`, asks."""
        kept = self._kept.get(base_labels)
        return kept is None or kept.since + 1 >= self.every

    def forget(self) -> None:
        """A new connection: perhaps a restarted server, whose counters began again."""
        self._kept.clear()

    def add(self, metrics: MetricSet, reply: object, fields: dict[str, str]) -> None:
        """This scrape's reply (None when it was not asked): fresh, or the last again."""
        base = metrics.base_labels
        if reply is not None and self.every == 1:  # nothing to keep
            add_histograms(metrics, reply, fields)
            return
        kept = self._kept.get(base)
        if reply is not None:
            if kept is None and len(self._kept) >= _MAX_KEPT:
                self._kept.clear()  # label sets that come and go (roles): start over
            kept = self._kept[base] = _Kept(MetricSet(base))
            add_histograms(kept.metrics, reply, fields)
        elif kept is None:
            return  # rendered with labels this scrape does not have: nothing, not wrong
        else:
            kept.since += 1
        metrics.merge(kept.metrics)


_MAX_KEPT = 4  # /metrics and /scrape, each with the role label's two values
