"""One benchmark run: the fleet once, then each fleet size with both exporters in turn."""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.exporters import (
    CACHESCOPE,
    PEER,
    Exporter,
    settle,
    start_cachescope,
    start_redis_exporter,
)
from benchmarks.measure import Results, all_targets_batch, check, count_up, finish, scrape_batch
from benchmarks.processes import Processes
from benchmarks.servers import Fleet, grow_fleet

log = logging.getLogger("benchmarks")


@dataclass
class Settings:
    sizes: list[int]
    scrapes: int = 2000  # /scrape calls per exporter and fleet size, over all rounds
    rounds: int = 5
    memcached: int = 4
    pass_targets: int = 200  # target scrapes per full-pass batch: N=10 does 20 passes a round
    batch_cap: float = 120.0  # seconds any one measuring loop may run
    time_limit: float = 1800.0  # seconds for the whole run; sizes left over are skipped
    source: Path | None = None  # cachescope from this directory instead of the installed one
    version: str = ""  # which cachescope that is, for the report
    # More `serve` arguments, to measure an option's cost (--no-redis.latency-histograms)
    cachescope_args: tuple[str, ...] = ()


@dataclass
class Hung:
    """/metrics over `targets` targets of which `hung` are paused (SIGSTOP)."""

    targets: int
    hung: int
    timeout: float
    wall: float
    up: int


@dataclass
class Report:
    settings: Settings
    fleet: Fleet
    sizes: dict[int, dict[str, Results]] = field(default_factory=dict)
    hung: Hung | None = None
    memcached: Results | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


class ExporterLost(RuntimeError):
    """An exporter stopped answering mid-run (on a shared machine, not always its fault)."""


def redis_uris(fleet: Fleet, n: int) -> list[str]:
    return [f"redis://127.0.0.1:{port}" for port in fleet.redis_ports[:n]]


def run_size(processes: Processes, fleet: Fleet, n: int, settings: Settings) -> dict[str, Results]:
    """Both exporters at one fleet size, measured in interleaved rounds."""
    uris = redis_uris(fleet, n)
    exporters = [
        start_cachescope(processes, uris, f"n{n}", settings.source, args=settings.cachescope_args),
        start_redis_exporter(processes, fleet.redis_ports[0], f"n{n}"),
    ]
    try:
        results = {exporter.name: Results(gzip=Results()) for exporter in exporters}
        for exporter in exporters:
            results[exporter.name].samples_per_scrape = check(
                exporter, uris, results[exporter.name]
            )
        _rounds(exporters, uris, settings, results)
        for exporter in exporters:
            finish(exporter, results[exporter.name])
        return results
    except OSError as exc:  # the exporter went away under us
        raise ExporterLost(f"N={n}: {exc}\n{_post_mortem(processes, exporters, n)}") from exc
    finally:
        for exporter in exporters:
            exporter.client.close()
            processes.stop(exporter.proc)


def _post_mortem(processes: Processes, exporters: list[Exporter], n: int) -> str:
    """Exit status and log tail of each exporter, for an error message."""
    return "\n".join(
        f"{e.name}: exit status {e.proc.poll()}, log:\n{processes.log(f'{e.name}-n{n}')}"
        for e in exporters
    )


def _rounds(
    exporters: list[Exporter], uris: list[str], settings: Settings, results: dict[str, Results]
) -> None:
    """Alternate which exporter goes first, so drifting machine load hits both alike."""
    per_round = max(1, settings.scrapes // settings.rounds)
    passes = max(1, settings.pass_targets // len(uris))
    next_index = dict.fromkeys(results, 0)
    for round_no in range(settings.rounds):
        order = exporters if round_no % 2 == 0 else exporters[::-1]
        for exporter in order:
            mine = results[exporter.name]
            for part, gzipped in _parts(mine):
                settle()
                next_index[exporter.name] = scrape_batch(
                    exporter,
                    uris,
                    next_index[exporter.name],
                    per_round,
                    settings.batch_cap,
                    part,
                    gzipped,
                )
        for exporter in order[::-1]:
            for part, gzipped in _parts(results[exporter.name]):
                settle()
                all_targets_batch(exporter, uris, passes, settings.batch_cap, part, gzipped)
        log.info("  round %d/%d done", round_no + 1, settings.rounds)


def _parts(results: Results) -> list[tuple[Results, bool]]:
    """Where each loop's numbers go: plain, then with gzip if that is measured."""
    return [(results, False)] + ([(results.gzip, True)] if results.gzip is not None else [])


def run_memcached(processes: Processes, fleet: Fleet, settings: Settings) -> Results:
    """cachescope alone on the Memcached servers (no Memcached peer ships in Debian)."""
    uris = [f"memcached://127.0.0.1:{port}" for port in fleet.memcached_ports]
    exporter = start_cachescope(
        processes, uris, "memcached", settings.source, args=settings.cachescope_args
    )
    try:
        results = Results()
        results.samples_per_scrape = check(exporter, uris)
        _rounds([exporter], uris, settings, {CACHESCOPE: results})
        finish(exporter, results)
        return results
    finally:
        exporter.client.close()
        processes.stop(exporter.proc)


def run_hung(processes: Processes, fleet: Fleet, timeout: float = 2.0) -> Hung:
    """One /metrics over 100 targets while 10 of their servers are stopped with SIGSTOP."""
    uris = redis_uris(fleet, 100)
    exporter = start_cachescope(processes, uris, "hung", timeout=timeout)
    exporter.all_targets(uris)  # connect everything first
    paused = [fleet.redis_pids[port] for port in fleet.redis_ports[:100:10]]  # every tenth
    for pid in paused:
        os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        body = exporter.all_targets(uris)
        wall = time.monotonic() - started
    finally:
        for pid in paused:
            os.kill(pid, signal.SIGCONT)
    processes.stop(exporter.proc)
    return Hung(len(uris), len(paused), timeout, wall, count_up(body))


def run(processes: Processes, fleet: Fleet, settings: Settings, report: Report) -> None:
    """Every size in turn while the time limit allows; memcached last."""
    start = time.monotonic()
    for n in settings.sizes:
        elapsed = time.monotonic() - start
        if elapsed > settings.time_limit:
            report.notes.append(f"N={n} skipped: the run's time limit was reached")
            continue
        log.info("starting redis servers up to %d (%.0fs elapsed)", n, elapsed)
        grow_fleet(processes, fleet, n)
        log.info("measuring N=%d redis targets", n)
        for attempt in (1, 2):
            try:
                report.sizes[n] = run_size(processes, fleet, n, settings)
                break
            except ExporterLost as exc:
                if attempt == 2:
                    raise
                log.warning("%s\nmeasuring N=%d again from scratch", exc, n)
                reason = str(exc).splitlines()[0]
                report.notes.append(f"N={n} measured twice: an exporter was lost ({reason})")
        for name in (CACHESCOPE, PEER):
            for note in report.sizes[n][name].capped:
                report.notes.append(f"N={n} {name}: {note} (time cap)")
    if len(fleet.redis_ports) >= 100 and time.monotonic() - start < settings.time_limit:
        log.info("measuring 100 targets of which 10 hang")
        report.hung = run_hung(processes, fleet)
    if fleet.memcached_ports and time.monotonic() - start < settings.time_limit:
        log.info("measuring %d memcached targets", len(fleet.memcached_ports))
        report.memcached = run_memcached(processes, fleet, settings)
    report.seconds = time.monotonic() - start
