"""Scrape worker processes: a large fleet's /metrics on every core.

Parsing INFO and rendering samples is CPU work, and the scrape threads of one
Python process share one interpreter lock: one process scrapes a few hundred
Redis targets per second of CPU, whatever the machine. Past that, /metrics
splits its targets over worker processes. Each worker keeps its own states
(connections, counters) for the targets it is given, scrapes them with its own
thread pool and sends back their families rendered; the main process serves
HTTP, joins the families, and mirrors each target's outcome for the status page.

A target stays with one worker (by a hash of its name) so its connection
lasts. Targets with a keyspace sampler are scraped in the main process, where
their sampler runs. A worker that dies or does not answer in time is replaced;
its targets report `up 0` for that scrape.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
import zlib
from collections.abc import Iterable
from multiprocessing.connection import Connection
from typing import Any

from cachescope.config import TargetConfig
from cachescope.errors import ScrapeError
from cachescope.exposition import Joined, Labels, MetricSet, Part
from cachescope.logs import logging_settings, setup_logging
from cachescope.scrape import Scraper, TargetState

log = logging.getLogger(__name__)

# What a worker is asked to scrape: target, labels, keep the connection, series limit.
Job = tuple[TargetConfig, Labels, bool, int]
# A target's outcome, mirrored into the main process' state for the status page.
Outcome = tuple[str, float | None, float, float, str, int, dict[str, int]]
# Time for a worker beyond its targets' own timeouts: pickling, the pipe, start-up.
MARGIN = 2.5
# "auto": worker processes only for fleets this large; smaller ones scrape in-process.
AUTO_MIN_TARGETS = 200


def process_count(setting: int, targets: int) -> int:
    """Worker processes for a fleet: `setting` if set, else one per usable CPU for big fleets."""
    if setting > 0:
        return setting if setting > 1 else 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cpus or 1) if targets >= AUTO_MIN_TARGETS and (cpus or 1) > 1 else 0


class Worker:
    """One worker process and the main process' end of its pipe."""

    def __init__(self, index: int, max_workers: int) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a threaded process
        self.pipe, child = context.Pipe()
        self.process = context.Process(
            target=serve_worker,
            args=(child, max_workers, logging_settings()),
            name=f"cachescope-scrape-{index}",
            daemon=True,
        )
        self.process.start()
        child.close()
        self.sent: list[Job] | None = None  # the jobs the worker holds now
        self.sequence = 0

    def request(self, jobs: list[Job]) -> int:
        """Ask for a scrape; the jobs travel only when they changed."""
        self.sequence += 1
        self.pipe.send((self.sequence, None if jobs == self.sent else jobs))
        self.sent = jobs
        return self.sequence

    def reply(self, sequence: int, timeout: float) -> tuple[list[Part], list[Outcome]] | None:
        """The answer to request `sequence`, or None if none came in time."""
        deadline = time.monotonic() + timeout
        while self.pipe.poll(max(deadline - time.monotonic(), 0)):
            answered, parts, outcomes = self.pipe.recv()
            if answered == sequence:
                return parts, outcomes
        return None

    def stop(self, wait: float = 2.0) -> None:
        """Ask the worker to close its connections and exit; kill it after `wait` seconds."""
        with contextlib.suppress(OSError):
            self.pipe.send(None)
        self.process.join(timeout=wait)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=2)
        self.pipe.close()


class ProcessScraper:
    """Scrapes many targets over worker processes, like Scraper does over threads."""

    def __init__(self, processes: int, max_workers: int, local: Scraper) -> None:
        self.processes = processes
        self.max_workers = max_workers
        self.local = local  # for targets with a keyspace sampler
        self._workers: list[Worker | None] = [None] * processes
        self._lock = threading.Lock()  # one exchange with the workers at a time

    def scrape_many(self, jobs: list[tuple[TargetState, Labels]]) -> Joined:
        batches: list[list[tuple[TargetState, Labels]]] = [[] for _ in range(self.processes)]
        local = []
        for state, labels in jobs:
            if state.sampler is not None:
                local.append((state, labels))
            else:
                batches[zlib.crc32(state.target.name.encode()) % self.processes].append(
                    (state, labels)
                )
        with self._lock:
            asked = [self._ask(index, batch) if batch else 0 for index, batch in enumerate(batches)]
            joined = self.local.scrape_many(local)  # meanwhile, in this process
            for index, batch in enumerate(batches):
                if batch:
                    self._collect(index, batch, asked[index], joined)
        return joined

    def _ask(self, index: int, batch: list[tuple[TargetState, Labels]]) -> int:
        worker = self._workers[index]
        if worker is None or not worker.process.is_alive():
            if worker is not None:
                log.warning(
                    "scrape worker %d exited (code %s); starting a new one",
                    index,
                    worker.process.exitcode,
                )
                worker.stop()
            worker = self._workers[index] = Worker(index, self.max_workers)
        jobs = [(s.target, labels, s.persistent, s.max_series) for s, labels in batch]
        try:
            return worker.request(jobs)
        except OSError:
            return -1  # _collect finds no reply and replaces the worker

    def _collect(
        self, index: int, batch: list[tuple[TargetState, Labels]], sequence: int, joined: Joined
    ) -> None:
        worker = self._workers[index]
        timeout = max((state.target.timeout for state, _ in batch), default=0.0) + MARGIN
        try:
            reply = worker.reply(sequence, timeout) if worker and sequence >= 0 else None
        except (OSError, EOFError):
            reply = None
        if reply is None:
            if worker is not None:
                log.warning("scrape worker %d did not answer in time; replacing it", index)
                worker.stop(wait=0)
            self._workers[index] = None
            _failed(batch, joined, timeout)
            return
        parts, outcomes = reply
        joined.add(parts)
        for (state, _), outcome in zip(batch, outcomes, strict=True):
            _mirror(state, outcome)

    def close(self) -> None:
        with self._lock:
            for worker in self._workers:
                if worker is not None:
                    worker.stop()
            self._workers = [None] * self.processes


def _failed(batch: Iterable[tuple[TargetState, Labels]], joined: Joined, duration: float) -> None:
    error = ScrapeError("timeout", "the scrape worker process did not answer in time")
    for state, labels in batch:
        state.record_failure(error)
        state.scrapes += 1
        state.last_up, state.last_time, state.last_duration = 0.0, time.time(), duration
        metrics = MetricSet(labels)
        state.add_self_metrics(metrics, 0.0, duration)
        joined.add(metrics.parts())


def _mirror(state: TargetState, outcome: Outcome) -> None:
    _, state.last_up, state.last_time, state.last_duration, state.last_error, scrapes, errors = (
        outcome
    )
    state.scrapes = scrapes
    state.errors.clear()
    state.errors.update(errors)


def _outcome(state: TargetState) -> Outcome:
    return (
        state.target.name,
        state.last_up,
        state.last_time,
        state.last_duration,
        state.last_error,
        state.scrapes,
        dict(state.errors),
    )


def serve_worker(pipe: Connection, max_workers: int, log_settings: tuple[str, str]) -> None:
    """A worker process: scrape the jobs it holds on each request, until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles signals
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    setup_logging(*log_settings)
    scraper = Scraper(max_workers=max_workers)
    states: dict[str, tuple[Job, TargetState]] = {}
    jobs: list[tuple[TargetState, Labels]] = []
    try:
        while True:
            try:
                message: Any = pipe.recv()
            except EOFError:
                break  # the main process is gone
            if message is None:
                break
            sequence, new_jobs = message
            if new_jobs is not None:
                jobs = _sync(states, new_jobs)
            joined = scraper.scrape_many(jobs)
            pipe.send((sequence, joined.parts(), [_outcome(state) for state, _ in jobs]))
    finally:
        scraper.close()
        for _, state in states.values():
            state.close()


def _sync(
    states: dict[str, tuple[Job, TargetState]], jobs: list[Job]
) -> list[tuple[TargetState, Labels]]:
    """Keep the states of unchanged jobs (and their connections), replace the rest."""
    wanted = {job[0].name: job for job in jobs}
    for name in list(states):
        job, state = states[name]
        if wanted.get(name) != job:
            del states[name]
            state.close()
    for name, job in wanted.items():
        if name not in states:
            target, _, persistent, max_series = job
            states[name] = (job, TargetState(target, persistent, max_series))
    return [(states[job[0].name][1], job[1]) for job in jobs]
