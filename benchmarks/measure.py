"""Measurements of one exporter: each loop is bounded by a count and by a time cap."""

from __future__ import annotations

import math
import re
import statistics
import time
from dataclasses import dataclass, field

from benchmarks.exporters import Exporter
from benchmarks.processes import cpu_seconds, peak_rss_bytes

_UP = re.compile(rb"^(?:redis|memcached)_up(\{[^}]*\})? 1$", re.MULTILINE)


@dataclass
class Results:
    """What one exporter showed at one fleet size, over all rounds."""

    cpu_per_scrape: list[float] = field(default_factory=list)  # one value per round
    latencies: list[float] = field(default_factory=list)  # every /scrape, all rounds
    all_wall: list[float] = field(default_factory=list)  # one value per round
    all_cpu: list[float] = field(default_factory=list)  # one value per round
    peak_rss: int = 0
    samples_per_scrape: int = 0
    capped: list[str] = field(default_factory=list)  # loops stopped by their time cap
    # The same loops with Accept-Encoding: gzip, as Prometheus asks (None: not measured).
    gzip: Results | None = None
    plain_bytes: int = 0  # one pass over every target, bytes on the wire without gzip
    gzip_bytes: int = 0  # the same pass, gzip asked for

    def summary(self) -> dict[str, float]:
        """Medians over rounds; latency percentiles over every request; gzip's under gzip_."""
        summary = self._own()
        summary["plain_bytes"] = float(self.plain_bytes or math.nan)
        summary["gzip_bytes"] = float(self.gzip_bytes or math.nan)
        packed = self.gzip._own() if self.gzip is not None and self.gzip.all_cpu else {}
        for key in ("cpu_per_scrape", "p50", "p99", "all_wall", "all_cpu"):
            summary[f"gzip_{key}"] = packed.get(key, math.nan)
        return summary

    def _own(self) -> dict[str, float]:
        ordered = sorted(self.latencies)
        return {
            "cpu_per_scrape": statistics.median(self.cpu_per_scrape),
            "p50": percentile(ordered, 0.50),
            "p99": percentile(ordered, 0.99),
            "all_wall": statistics.median(self.all_wall),
            "all_cpu": statistics.median(self.all_cpu),
            "peak_rss": float(self.peak_rss),
            "samples": float(self.samples_per_scrape),
        }


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def count_up(body: bytes) -> int:
    """Targets reported up in an exposition (one `redis_up ... 1` line each)."""
    return len(_UP.findall(body))


def check(exporter: Exporter, uris: list[str], results: Results | None = None) -> int:
    """Warm up (connections open, code paths hot) and prove every target is scraped; samples.

    With `results`, a gzip pass too: its body must decompress to every target up,
    and both passes' sizes on the wire are kept.
    """
    client = exporter.client
    for gzipped in (False, True) if results is not None else (False,):
        wire, packed = client.wire_bytes, client.gzipped
        body = exporter.all_targets(uris, gzipped)
        if count_up(body) != len(uris):
            raise RuntimeError(
                f"{exporter.name}: {count_up(body)} of {len(uris)} targets up in a full pass"
            )
        if results is not None and gzipped and client.gzipped == packed:
            raise RuntimeError(f"{exporter.name}: asked for gzip, got plain text")
        if results is not None:
            setattr(results, "gzip_bytes" if gzipped else "plain_bytes", client.wire_bytes - wire)
    body = exporter.client.get(exporter.scrape_path(uris[0]))
    for uri in uris[:20]:
        exporter.client.get(exporter.scrape_path(uri))
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def scrape_batch(
    exporter: Exporter,
    uris: list[str],
    start: int,
    count: int,
    cap: float,
    results: Results,
    gzipped: bool = False,
) -> int:
    """`count` /scrape calls round-robin over the targets; adds CPU per scrape and latencies."""
    paths = [exporter.scrape_path(uri) for uri in uris]
    client = exporter.client
    clock = time.perf_counter
    latencies: list[float] = []
    stop = time.monotonic() + cap
    cpu_before = cpu_seconds(exporter.pid)
    i = start
    for i in range(start, start + count):
        begin = clock()
        client.get(paths[i % len(paths)], gzipped)
        latencies.append(clock() - begin)
        if time.monotonic() > stop:
            results.capped.append(f"/scrape batch stopped after {len(latencies)} of {count}")
            break
    cpu = cpu_seconds(exporter.pid) - cpu_before
    results.cpu_per_scrape.append(cpu / len(latencies))
    results.latencies.extend(latencies)
    return i + 1


def all_targets_batch(
    exporter: Exporter,
    uris: list[str],
    passes: int,
    cap: float,
    results: Results,
    gzipped: bool = False,
) -> None:
    """`passes` full passes over every target; adds the mean wall and CPU of one pass."""
    stop = time.monotonic() + cap
    cpu_before = cpu_seconds(exporter.pid)
    begin = time.perf_counter()
    done = 0
    for _ in range(passes):
        exporter.all_targets(uris, gzipped)
        done += 1
        if time.monotonic() > stop:
            if done < passes:
                results.capped.append(f"full passes stopped after {done} of {passes}")
            break
    results.all_wall.append((time.perf_counter() - begin) / done)
    results.all_cpu.append((cpu_seconds(exporter.pid) - cpu_before) / done)


def finish(exporter: Exporter, results: Results) -> None:
    results.peak_rss = peak_rss_bytes(exporter.pid)
