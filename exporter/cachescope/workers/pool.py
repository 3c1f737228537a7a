"""Scrape worker processes: a large fleet's /metrics on every core.

Parsing INFO and rendering samples is CPU work, and the scrape threads of one
Python process share one interpreter lock: one process scrapes a few hundred
Redis targets per second of CPU, whatever the machine. Past that, /metrics
splits its targets over processes: the main one and N-1 workers. Each keeps its
own states (connections, counters) for the targets it is dealt, by a hash of
the target's name so that a connection lasts, and scrapes them with its own
thread pool. Workers send their families back rendered, and each target's
outcomes since the last request; the main process joins the families with its
own share and records the outcomes in its states, as if it had scraped them.

Targets with a keyspace sampler stay in the main process, next to their
sampler. A worker that dies or does not answer in time is replaced; its targets
report `up 0` for that scrape and keep counting where they were.

Workers are plain child processes (worker.py) on a socket pair
(frames.py), not multiprocessing's: no resource-tracker process, and the
rendered text crosses as raw bytes, written with scatter-gather and read into
one buffer, rather than pickled and copied piece by piece.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import pickle
import select
import socket
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

from cachescope.errors import ScrapeError
from cachescope.exposition.families import MetricSet
from cachescope.exposition.joined import Joined
from cachescope.logs import fields, logging_settings
from cachescope.scrape.state import Batch, Scraper
from cachescope.workers.frames import Counts, Job, Order, Report, recv_frame, send_frame

log = logging.getLogger(__name__)

# Time for a worker beyond its targets' own timeouts: the pipe, a slow start.
MARGIN = 2.5
_PIPE = 0.3  # of a scrape's budget, at most, kept for a worker's answer to reach this process
# "auto": worker processes only for fleets this large; smaller ones scrape in-process.
AUTO_MIN_TARGETS = 200
AUTO_MAX_PROCESSES = 4  # each process costs memory; past this, shard the fleet instead


def process_count(setting: int, targets: int) -> int:
    """Scraping processes, the main one included: `setting` if set, else one per usable CPU
    for a big fleet. 1 means no workers."""
    if setting > 0:
        return setting
    return min(usable_cpus(), AUTO_MAX_PROCESSES) if targets >= AUTO_MIN_TARGETS else 1


def usable_cpus() -> int:
    """CPUs this process may use: its affinity, less a container's CPU quota."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = cpu_quota()
    if quota is not None:
        cpus = min(cpus or 1, max(math.ceil(quota), 1))  # 1.5 CPUs: 2 processes
    return cpus or 1


def cpu_quota(cgroup: Path = Path("/sys/fs/cgroup")) -> float | None:
    """A cgroup's CPU limit in CPUs (v2 `cpu.max`, else v1 CFS quota); None if unlimited."""
    for quota_file, period_file in (
        ("cpu.max", None),
        ("cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us"),
    ):
        try:
            words = (cgroup / quota_file).read_text(encoding="ascii").split()
            if period_file is not None:
                words = words[:1] + (cgroup / period_file).read_text(encoding="ascii").split()[:1]
        except OSError:
            continue
        if len(words) == 2 and words[0].isdecimal() and words[1].isdecimal() and int(words[1]):
            return int(words[0]) / int(words[1])
        return None  # "max" (v2) or -1 (v1): no limit
    return None


def share(name: str, processes: int) -> int:
    """Which process scrapes a target (0 is the main one): the same on every scrape."""
    return zlib.crc32(name.encode()) % processes


class Worker:
    """One worker process and the main process' end of its socket."""

    def __init__(self, max_concurrency: int) -> None:
        self.sock, child = socket.socketpair()
        level, fmt = logging_settings()
        command = [sys.executable, "-m", "cachescope.workers.worker", str(child.fileno())]
        command += [str(max_concurrency), level, fmt]
        self.process = subprocess.Popen(
            command, pass_fds=[child.fileno()], stdin=subprocess.DEVNULL
        )
        child.close()
        self.sent: list[Job] | None = None  # the jobs the worker holds now
        # A reply not begun by a client's deadline is still on its way: read before the next.
        self.owed = False

    def alive(self) -> bool:
        return self.process.poll() is None

    def request(self, batch: Batch, budget: float | None = None) -> None:
        """Ask for a scrape; the jobs travel only when they changed.

        With them go each target's counters so far: a target new to this worker
        (a replaced worker's, say) counts on from there, never backwards.
        """
        jobs = [
            Job(task.state.target, task.labels, task.state.persistent, task.state.max_series)
            for task in batch
        ]
        order = Order(None, None, budget)
        if jobs != self.sent:
            order = Order(
                jobs,
                {t.state.target.name: Counts(t.state.scrapes, dict(t.state.errors)) for t in batch},
                budget,
            )
            self.sent = jobs
        self.sock.settimeout(MARGIN)
        send_frame(self.sock, order)

    def begun(self, deadline: float) -> bool:
        """Whether the worker's reply has begun to arrive by `deadline`; nothing is read."""
        ready, _, _ = select.select([self.sock], [], [], max(deadline - time.monotonic(), 0.0))
        return bool(ready)

    def reply(self, deadline: float) -> tuple[Report, memoryview]:
        """The worker's report and its rendered data; OSError if late or gone."""
        frame = recv_frame(self.sock, deadline)
        if not isinstance(frame.index, Report):
            raise ValueError(f"a scrape worker sent {type(frame.index).__name__}, not a report")
        return frame.index, frame.data

    def stop(self, wait: float = 2.0) -> None:
        """Ask the worker to close its connections and exit; kill it after `wait` seconds."""
        try:
            self.sock.settimeout(0.5)
            send_frame(self.sock, "stop")
            self.process.wait(timeout=wait)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(timeout=5)
        self.sock.close()


class ProcessScraper:
    """Scrapes many targets over this process and worker processes, like Scraper over threads."""

    def __init__(self, processes: int, max_concurrency: int, local: Scraper) -> None:
        self.processes = processes  # this one and the workers: --scrape.processes
        self.max_concurrency = max_concurrency  # scrape threads in each worker
        self.local = local  # this process' share, and the targets with a keyspace sampler
        self._workers: list[Worker | None] = [None] * (processes - 1)
        self._lock = threading.Lock()  # one exchange with the workers at a time
        self.restarts = 0  # workers replaced after dying or falling silent

    def scrape_many(self, jobs: Batch, budget: float | None = None) -> Joined:
        batches: list[Batch] = [[] for _ in range(self.processes)]
        for task in jobs:
            state = task.state
            index = 0 if state.sampler is not None else share(state.target.name, self.processes)
            batches[index].append(task)
        with self._lock:
            timeout = max((task.state.target.timeout for task in jobs), default=0.0) + MARGIN
            if budget is not None:  # the workers' budget is shorter: their answer travels
                timeout = min(timeout, budget)
                budget = max(budget - min(_PIPE, budget / 10), 0.0)
            deadline = time.monotonic() + timeout
            asked = [self._ask(index, batch, budget) for index, batch in enumerate(batches[1:])]
            joined = self.local.scrape_many(batches[0], budget)  # meanwhile, in this process
            for index, (worker, batch) in enumerate(zip(asked, batches[1:], strict=True)):
                if worker is None:
                    continue
                if budget is not None and not worker.begun(deadline):
                    # The client gives up now; the worker is not at fault (a hung target's
                    # own timeout, its start-up): its reply is read before the next request.
                    worker.owed = True
                    late = "the scrape worker's reply came after the deadline"
                    _failed(batch, joined, late, timeout)
                    continue
                begun = deadline if budget is None else time.monotonic() + MARGIN
                self._collect(index, worker, batch, begun, joined)
        return joined

    def _ask(self, index: int, batch: Batch, budget: float | None) -> Worker | None:
        """Send worker `index` its batch, starting the worker if need be; None if no batch."""
        if not batch:
            return None
        worker = self._workers[index]
        if worker is not None and not worker.alive():
            log.warning(
                "scrape worker exited; starting a new one",
                extra=fields(worker=index, code=worker.process.returncode),
            )
            self._replace(index)
            worker = None
        if worker is not None and worker.owed:
            worker = self._settle(index, worker)
        if worker is None:
            worker = self._workers[index] = Worker(self.max_concurrency)
        with contextlib.suppress(OSError):  # then _collect finds no reply, replaces the worker
            worker.request(batch, budget)
        return worker

    def _collect(
        self, index: int, worker: Worker, batch: Batch, deadline: float, joined: Joined
    ) -> None:
        try:
            report, data = worker.reply(deadline)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
            failed = fields(worker=index, error=str(exc) or type(exc).__name__)
            log.warning("scrape worker did not answer in time; replacing it", extra=failed)
            self._replace(index)
            _failed(batch, joined, "the scrape worker process did not answer in time")
            return
        at = 0
        sizes = report.families  # a family's samples lie together in `data`, in this order
        for name, header, length in zip(sizes.names, sizes.headers, sizes.sizes, strict=True):
            joined.add_family(name, header, [data[at : at + length]])
            at += length
        outcomes = report.outcomes
        for position, outcome in zip(outcomes.positions, outcomes.records(), strict=True):
            batch[position].state.record(outcome)

    def _settle(self, index: int, worker: Worker) -> Worker | None:
        """Read and drop a late reply; None if it does not come.

        Its targets were counted failed when the client's deadline passed: that is
        what the client saw, and counting the late outcomes too would count twice.
        """
        worker.owed = False
        try:
            worker.reply(time.monotonic() + MARGIN)
        except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
            log.warning(
                "scrape worker did not answer; replacing it",
                extra=fields(worker=index, error=str(exc)),
            )
            self._replace(index)
            return None
        return worker

    def _replace(self, index: int) -> None:
        worker = self._workers[index]
        if worker is not None:
            worker.stop(wait=0)
            self.restarts += 1
        self._workers[index] = None

    def close(self) -> None:
        with self._lock:
            for worker in self._workers:
                if worker is not None:
                    worker.stop()
            self._workers = [None] * (self.processes - 1)


def _failed(batch: Batch, joined: Joined, why: str, duration: float | None = None) -> None:
    """Each target of the batch down, by timeout, after `duration` (or its timeout's worth)."""
    error = ScrapeError("timeout", why)
    for task in batch:
        state = task.state
        outcome = state.failed(error, duration or state.target.timeout + MARGIN)
        state.record(outcome)
        metrics = MetricSet(task.labels)
        state.add_self_metrics(metrics, outcome.up, outcome.duration)
        joined.add(metrics.rendered())
