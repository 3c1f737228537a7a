"""Two samples of a target over an interval, read back from the collectors' metric sets.

The report reuses the exporter's collectors (one INFO parser, one stats parser):
each sample is a MetricSet, and `Reading` looks its values up by name and labels.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

from cachescope.config.records import TargetConfig
from cachescope.errors import ScrapeError, scrub, scrubbed, scrubber_for
from cachescope.exposition.families import MetricSet
from cachescope.scrape.state import Collector, make_collector, scrub_labels

_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

LabelDict = dict[str, str]


class Reading:
    """The samples of one scrape, by metric name, with their labels parsed back."""

    def __init__(self, metrics: MetricSet) -> None:
        self._series: dict[str, list[tuple[LabelDict, float]]] = {}
        for family in metrics.families():
            for suffix, labels, value in family.samples:
                parsed = {key: _unescape(text) for key, text in _LABEL.findall(labels)}
                self._series.setdefault(family.name + suffix, []).append((parsed, value))

    def series(self, name: str) -> list[tuple[LabelDict, float]]:
        """Every sample of `name`, as (labels, value)."""
        return self._series.get(name, [])

    def value(self, name: str, **labels: str) -> float | None:
        """The first sample of `name` whose labels include `labels`, or None."""
        for found, value in self.series(name):
            if all(found.get(key) == text for key, text in labels.items()):
                return value
        return None

    def total(self, name: str, **labels: str) -> float | None:
        """The sum of the samples of `name` matching `labels`, or None if there are none."""
        values = [
            value
            for found, value in self.series(name)
            if all(found.get(key) == text for key, text in labels.items())
        ]
        return sum(values) if values else None

    def label(self, name: str, key: str) -> str | None:
        """A label of the first sample of `name` (e.g. the role of redis_instance_info)."""
        for found, _ in self.series(name):
            return found.get(key)
        return None

    def names(self) -> Iterator[str]:
        return iter(self._series)


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


@dataclass(frozen=True)
class Samples:
    """Two readings of one target, `seconds` apart; `duration` is the second's round trip."""

    first: Reading
    second: Reading
    seconds: float
    duration: float


def sample(target: TargetConfig, interval: float) -> Samples:
    """Collect the target twice, `interval` apart; raise ScrapeError if it cannot be read.

    Both readings ask LATENCY HISTOGRAM whatever the target's `latency_histograms_every`:
    the p99 of the interval is the growth of its buckets, and a reading that repeated
    the first one's would show none.
    """
    if target.redis.latency_histograms_every != 1:
        target = replace(target, redis=replace(target.redis, latency_histograms_every=1))
    collector = make_collector(target)
    try:
        start = time.monotonic()
        first = _collect(collector, target)
        time.sleep(max(interval - (time.monotonic() - start), 0.0))
        middle = time.monotonic()
        second = _collect(collector, target)
        duration = time.monotonic() - middle
        return Samples(Reading(first), Reading(second), middle - start, duration)
    finally:
        collector.close()


def _collect(collector: Collector, target: TargetConfig) -> MetricSet:
    """One scrape, scrubbed of the target's password as the exporter's scrapes are."""
    metrics = MetricSet()
    try:
        collector.collect(metrics, time.monotonic() + target.timeout)
    except ScrapeError as exc:
        raise scrubbed(exc, target) from None
    except Exception as exc:  # an odd reply is reported as such, never as a traceback
        raise ScrapeError("parse", scrub(f"{type(exc).__name__}: {exc}", target)) from None
    scrubber = scrubber_for(target)
    if scrubber is not None:
        scrub_labels(metrics, scrubber)
    return metrics
