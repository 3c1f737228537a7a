"""docs/benchmarks.md: the side-by-side table, the goals of issue 9, and how it was measured."""

from __future__ import annotations

import math
import os
import platform
import shlex
import subprocess
import time

from benchmarks.exporters import CACHESCOPE, PEER, redis_exporter_version
from benchmarks.measure import Results
from benchmarks.run import Report

# (key in Results.summary(), row label, scale to the shown unit, decimals)
PLAIN_ROWS = [
    ("cpu_per_scrape", "CPU per `/scrape` (ms)", 1e3, 3),
    ("p50", "`/scrape` latency p50 (ms)", 1e3, 3),
    ("p99", "`/scrape` latency p99 (ms)", 1e3, 3),
    ("all_wall", "all targets: wall (s)", 1.0, 4),
    ("all_cpu", "all targets: CPU (s)", 1.0, 4),
    ("peak_rss", "peak RSS (MiB)", 1 / 2**20, 1),
    ("samples", "samples per `/scrape`", 1.0, 0),
]
# The same with Accept-Encoding: gzip, as Prometheus sends it (n/a: not measured).
GZIP_ROWS = [
    ("gzip_cpu_per_scrape", "gzip: CPU per `/scrape` (ms)", 1e3, 3),
    ("gzip_p50", "gzip: `/scrape` latency p50 (ms)", 1e3, 3),
    ("gzip_all_wall", "gzip: all targets: wall (s)", 1.0, 4),
    ("gzip_all_cpu", "gzip: all targets: CPU (s)", 1.0, 4),
    ("plain_bytes", "all targets: bytes sent, plain (KiB)", 1 / 2**10, 0),
    ("gzip_bytes", "all targets: bytes sent, gzip (KiB)", 1 / 2**10, 0),
]
ROWS = PLAIN_ROWS + GZIP_ROWS


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="ascii") as handle:
        mem_gib = int(handle.readline().split()[1]) / 2**20
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), {cpu}, "
        f"{mem_gib:.1f} GiB RAM, Linux {platform.release()}; Python {platform.python_version()}; "
        f"{_version(['redis-server', '--version'], 2)}; {_version(['memcached', '-V'], 1)}; "
        f"redis_exporter {redis_exporter_version()}"
    )


def _version(args: list[str], word: int) -> str:
    try:
        out = subprocess.run(args, capture_output=True, text=True, timeout=10).stdout.split()
        return f"{args[0]} {out[word].removeprefix('v=')}"
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return f"{args[0]} unknown"


def _number(value: float, scale: float, decimals: int) -> str:
    return "n/a" if math.isnan(value) else f"{value * scale:,.{decimals}f}"


def _ratio(ours: float, theirs: float) -> str:
    if theirs <= 0 or math.isnan(ours) or math.isnan(theirs):
        return "n/a"
    return f"{ours / theirs:.2f}x"


def side_by_side(report: Report) -> list[str]:
    lines = [
        f"| targets | measurement | {CACHESCOPE} | {PEER} | ratio ({CACHESCOPE} / {PEER}) |",
        "|---:|---|---:|---:|---:|",
    ]
    for n, results in report.sizes.items():
        ours, theirs = results[CACHESCOPE].summary(), results[PEER].summary()
        for key, label, scale, decimals in ROWS:
            lines.append(
                f"| {n} | {label} | {_number(ours[key], scale, decimals)} "
                f"| {_number(theirs[key], scale, decimals)} | {_ratio(ours[key], theirs[key])} |"
            )
    return lines


def memcached_table(results: Results, count: int) -> list[str]:
    summary = results.summary()
    lines = [f"| targets | measurement | {CACHESCOPE} |", "|---:|---|---:|"]
    for key, label, scale, decimals in PLAIN_ROWS:
        lines.append(f"| {count} | {label} | {_number(summary[key], scale, decimals)} |")
    return lines


def goals(report: Report) -> list[str]:
    """Issue 9's targets, each judged from this run's numbers (nothing here is a test)."""
    sums = {n: (r[CACHESCOPE].summary(), r[PEER].summary()) for n, r in report.sizes.items()}
    lines = ["| goal | measured | met |", "|---|---|---|"]

    def worst_ratio(key: str) -> tuple[float, str]:
        pairs = {n: ours[key] / theirs[key] for n, (ours, theirs) in sums.items() if theirs[key]}
        text = ", ".join(f"N={n}: {ratio:.2f}x" for n, ratio in pairs.items())
        return max(pairs.values(), default=math.nan), text

    cpu, cpu_text = worst_ratio("cpu_per_scrape")
    lines.append(f"| CPU per target scrape at most 0.5x {PEER} | {cpu_text} | {_yes(cpu <= 0.5)} |")
    p50, p50_text = worst_ratio("p50")
    lines.append(f"| `/scrape` p50 no worse than {PEER} | {p50_text} | {_yes(p50 <= 1.0)} |")
    if 1000 in sums:
        ours = sums[1000][0]
        wall, rss = ours["all_wall"], ours["peak_rss"] / 2**20
        lines.append(
            f"| 1,000 targets: `/metrics` under 2 s wall | {wall:.2f} s | {_yes(wall < 2)} |"
        )
        lines.append(f"| 1,000 targets: under 200 MB RSS | {rss:.0f} MiB | {_yes(rss < 200)} |")
    else:
        lines.append(
            "| 1,000 targets: `/metrics` under 2 s, under 200 MB | not run at N=1000 | - |"
        )
    hung = report.hung
    if hung is None:
        lines.append("| 100 targets, 10 hung: `/metrics` within timeout | not run | - |")
    else:
        ok = hung.wall < hung.timeout + 1.0 and hung.up == hung.targets - hung.hung
        lines.append(
            f"| {hung.targets} targets, {hung.hung} hung: `/metrics` within the timeout"
            f" ({hung.timeout:g} s) plus 1 s, the others complete | {hung.wall:.2f} s,"
            f" {hung.up} of {hung.targets} up | {_yes(ok)} |"
        )
    return lines


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def render(report: Report, argv: list[str]) -> str:
    settings, fleet = report.settings, report.fleet
    command = "python -m benchmarks " + shlex.join(argv)
    parts = [
        "# Benchmarks",
        "",
        "cachescope against Debian's `prometheus-redis-exporter`, measured side by side in one"
        " run by the harness in `benchmarks/` (see [How it is measured](#how-it-is-measured)).",
        "",
        f"- Command: `{command.strip()}` (or `make bench`)",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; run time"
        f" {report.seconds:.0f} s",
        f"- cachescope: {settings.version}; peer: Debian's `prometheus-redis-exporter`",
        f"- Machine: {machine()}",
        f"- Fleet: {len(fleet.redis_ports)} redis-server processes ({fleet.replicas} of them"
        f" replicas), {len(fleet.memcached_ports)} memcached; {settings.rounds} rounds,"
        f" {settings.scrapes} `/scrape` calls per exporter and size",
        "",
        "## Redis, side by side",
        "",
        *side_by_side(report),
        "",
        "## Goals of issue 9",
        "",
        *goals(report),
        "",
    ]
    if report.memcached is not None:
        parts += [
            "## Memcached (cachescope only: Debian ships no memcached_exporter)",
            "",
            *memcached_table(report.memcached, len(fleet.memcached_ports)),
            "",
        ]
    notes = report.notes or ["none: every size ran, no loop hit its time cap"]
    parts += [*METHOD, "", "## Notes on this run", "", *[f"- {note}" for note in notes]]
    return "\n".join(parts).rstrip() + "\n"


METHOD = [
    "## How it is measured",
    "",
    "- Hung targets: at N >= 100, cachescope with a 2 s target timeout and 100 targets; every"
    " tenth server is stopped with SIGSTOP (it accepts connections and never answers), one"
    " `GET /metrics` is timed and the `redis_up 1` lines counted, then the servers resume.",
    "- Servers: real `redis-server` processes on free loopback ports, started in parallel,"
    ' each tiny (`--save "" --appendonly no --maxmemory 16mb --hz 1`) with a few hundred keys'
    " in four databases, a burst of mixed reads, writes and failing commands (commandstats and"
    " errorstats populated), the slow log on, and every tenth server a replica of its"
    " neighbour. The fleet grows with N (servers for N=10 first, the rest before N=100 and"
    " N=1000), so a small N is not measured next to hundreds of idle servers; `--hz 1` keeps"
    " a thousand idle servers' timers from taking a large share of the cores.",
    "- Exporters: `cachescope serve --config.file` listing the N targets (default timeout,"
    " concurrency and scrape processes: from 200 targets on, `/metrics` is scraped by one"
    " process per usable CPU, the main one included), and"
    f" `{PEER}` with `-redis.addr` set to the first server, using its"
    " `/scrape?target=` for every target. Both are started fresh for each N, so peak RSS is"
    " per N.",
    "- CPU: utime + stime from `/proc/<pid>/stat` (all threads) of the exporter process and"
    " of every process below it (cachescope's scrape workers, which it starts from 200"
    " targets on, and multiprocessing's resource tracker), read before and after a batch of"
    " requests. The clock tick is 10 ms, so batches are hundreds of scrapes long.",
    "- `/scrape`: a single `http.client` keep-alive connection, round-robin over the N"
    " targets; latency is the client's wall time per request (Python client overhead"
    " included, alike for both). p50/p99 pool every request of every round.",
    "- All targets: for cachescope one `GET /metrics` (targets scraped concurrently inside the"
    f" exporter); `{PEER}` serves one target per `/metrics`, so its equivalent is N sequential"
    " `/scrape?target=` calls over one keep-alive connection, summed. Prometheus would run"
    f" those N scrapes in parallel, so {PEER}'s wall here is an upper bound on the wall time"
    " and its CPU is the fair comparison. Each round does enough passes to cover about"
    " 200 target scrapes (20 passes at N=10, 1 at N=1000); the table shows the median per pass.",
    "- gzip: the rows marked gzip repeat the `/scrape` and all-targets loops with"
    " `Accept-Encoding: gzip`, as Prometheus sends on every scrape, on the same connection"
    f" in the same rounds; both exporters compress (cachescope at level 1, {PEER} with Go's"
    " default). Their CPU minus the plain rows' is what compression costs; the bytes rows are"
    " one pass over every target as sent, without and with gzip. The client decompresses,"
    " outside the exporters' CPU.",
    "- Peak RSS: `VmHWM` from `/proc/<pid>/status` at the end of each N, summed over the"
    " exporter and every process below it: a sum of peaks, never less than the peak of the"
    " sum.",
    "- Warm-up: one full pass and 20 `/scrape` calls per exporter before measuring; the full"
    " pass also checks that every target reports `redis_up 1`.",
    "- Where cachescope's CPU goes: `python -m benchmarks.profile --targets 100` (or"
    " `make profile`) prints CPU per phase of a scrape and cProfile's top functions.",
    "",
    "### Noise",
    "",
    "The machine is shared and small, and the client, both exporters and all servers share its"
    " cores. To keep drift from favouring either side, the two exporters are measured in"
    " interleaved rounds (the first exporter alternates each round) and the table reports the"
    " median over rounds; latency percentiles pool all rounds. Expect differences of 10-20%"
    " between runs; ratios are steadier than absolute numbers. Compare ratios from one run,"
    " never numbers from different runs.",
]
