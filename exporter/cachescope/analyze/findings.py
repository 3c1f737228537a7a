"""Findings: every applicable alert of the rules pack, evaluated on one target's figures.

`evaluate(figures, thresholds)` is pure. A report is a moment, not a time series, so:
- `for` durations are not waited for: a condition true during the sample is a finding;
- `increase(...[5m]) > 0` alerts (OOM, BUSY, rejected connections, listener disabled, slab
  out of memory) fire when the counter grew during the interval; a counter that is above 0
  only from before the sample is reported one priority lower (`Past`);
- rates (hits, misses, evictions, connections) are the interval's, and RedisMissSpike compares
  the interval's misses/s with the average since the server started (not the hour before);
- RedisSlowlogGrowing scales the interval's new entries to 10 minutes, as increase() does;
- alerts that need history or a view from outside, and those on the keyspace sampler's
  findings, are not evaluated: each says why in its registry entry (`judged.NOT_JUDGED`,
  listed in README.md); RedisDown, MemcachedDown and RedisLoading come from a target that
  cannot be read (`unreachable`).

Priorities: critical -> critical; info -> low; warning -> high for the warning level of an
alert that also has a critical level (the step before an outage), medium otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from cachescope import alerts
from cachescope.analyze.checks import Params, Past
from cachescope.analyze.figures import Figures
from cachescope.analyze.judged import MEMCACHED, REDIS

PRIORITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class Finding:
    category: str
    issue: str
    action: str
    priority: str
    alert: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def evaluate(figures: Figures, thresholds: dict[str, Any]) -> list[Finding]:
    """The findings on one target, most urgent first."""
    checks = REDIS if figures.kind == "redis" else MEMCACHED
    found = []
    for name, function in checks.items():
        for severity, params, paired in levels(thresholds, name):
            issue = function(figures, params)
            if issue is not None:
                found.append(_finding(name, issue, severity, paired))
                break
    return sorted(found, key=lambda finding: PRIORITIES.index(finding.priority))


def unreachable(kind: str, error: str, reason: str, thresholds: dict[str, Any]) -> list[Finding]:
    """The finding for a target that could not be read: down, or loading its dataset."""
    name = "RedisLoading" if error == "loading" else f"{kind.capitalize()}Down"
    return [
        _finding(name, f"cannot read the server: {reason}", severity, paired)
        for severity, _, paired in list(levels(thresholds, name))[:1]
    ]


def levels(thresholds: dict[str, Any], name: str) -> Iterator[tuple[str, Params, bool]]:
    """(severity, parameters, has a critical level too) of an enabled alert, critical first."""
    entry = thresholds["alerts"].get(name, {})
    if entry.get("enabled", True) is False:
        return
    if "severity" in entry:
        yield entry["severity"], entry, False
        return
    for severity in ("critical", "warning"):
        if severity in entry:
            yield severity, entry[severity], "critical" in entry


def priority(severity: str, paired: bool) -> str:
    if severity == "critical":
        return "critical"
    if severity == "warning":
        return "high" if paired else "medium"
    return "low"


def _finding(name: str, issue: str, severity: str, paired: bool) -> Finding:
    level = priority(severity, paired)
    if isinstance(issue, Past):
        level = PRIORITIES[min(PRIORITIES.index(level) + 1, len(PRIORITIES) - 1)]
    alert = alerts.BY_NAME[name]
    return Finding(alert.category, str(issue), alert.action, level, name)
