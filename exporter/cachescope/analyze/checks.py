"""Helpers of the analyze checks: figures + an alert's parameters -> an issue, or None.

Each check mirrors its alert's PromQL on the figures of one sample, and lives with its
alert in cachescope/alerts/; the ones several alerts share are here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cachescope.analyze.figures import Figures
from cachescope.rules.model import duration_seconds

Params = dict[str, Any]
Check = Callable[[Figures, Params], str | None]


class Past(str):
    """An issue seen only before the sample (a counter above 0 that did not grow)."""


def pct(ratio: float) -> str:
    return f"{ratio * 100:.1f}%"


def human_bytes(value: float | None) -> str | None:
    """Bytes in Redis' units (1 MB = 1024 * 1024 bytes, as `maxmemory 2mb`), e.g. '3.2GB'."""
    if value is None:
        return None
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1024:
            return f"{value:.0f}B" if unit == "B" else _trim(value) + unit
        value /= 1024
    return _trim(value) + "TB"


def _trim(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def seconds(params: Params, key: str) -> float:
    return duration_seconds(params[key])


def event(figures: Figures, key: str, what: str) -> str | None:
    """A bad-event counter: grew during the interval, or only seen since the server started."""
    during, total = figures.events.get(key, (0.0, 0.0))
    if during > 0:
        return f"{during:g} {what} during the {figures.interval:.0f}s sample"
    if total > 0:
        return Past(f"{total:g} {what} since the server started (none during the sample)")
    return None


def hit_ratio_low(f: Figures, p: Params, minimum: str) -> str | None:
    """Hit ratio under the threshold, with real traffic, past the warm-up after a restart."""
    ratio, lookups = f.hit_ratio, f.lookups_per_second
    if ratio is None or lookups is None or lookups <= p[minimum]:
        return None
    if f.uptime is not None and f.uptime < seconds(p, "warmup"):
        return None
    if ratio >= p["threshold"]:
        return None
    return f"hit ratio {pct(ratio)} at {lookups:.0f} lookups/s is under {pct(p['threshold'])}"


def evictions_high(f: Figures, p: Params, unit: str) -> str | None:
    """Evictions while the hit ratio is low: the working set does not fit."""
    rate, ratio = f.evictions_per_second, f.hit_ratio
    if rate is None or ratio is None or rate <= p["threshold"] or ratio >= p["max_hit_ratio"]:
        return None
    return (
        f"evicting {rate:.1f} {unit}/s with a hit ratio of {pct(ratio)} "
        f"(under {pct(p['max_hit_ratio'])}): the cache is too small for its working set"
    )


def connections_near_limit(f: Figures, p: Params) -> str | None:
    if f.clients is None or not f.maxclients or f.clients / f.maxclients <= p["threshold"]:
        return None
    return (
        f"{f.clients:.0f} of {f.maxclients:.0f} connections in use "
        f"({pct(f.clients / f.maxclients)}, threshold {pct(p['threshold'])})"
    )


def scrape_slow(f: Figures, p: Params) -> str | None:
    if f.duration <= p["threshold"]:
        return None
    return f"reading the server took {f.duration:.2f}s (threshold {p['threshold']}s)"
