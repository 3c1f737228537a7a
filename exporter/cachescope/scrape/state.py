"""Scraping targets: one long-lived state per target, many targets at once.

A target's failure is a value: `<namespace>_up 0`, a labelled error counter
and a log line. Nothing raised while scraping one target reaches another.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import traceback
from collections import Counter, deque
from typing import NamedTuple, Protocol

from cachescope.config.records import TargetConfig
from cachescope.errors import ERROR_HINTS, ScrapeError, Scrubber, cut_at_deadline, scrubber_for
from cachescope.exposition.families import MetricSet, Rendered
from cachescope.exposition.joined import Joined
from cachescope.exposition.textformat import COUNTER, GAUGE, Labels
from cachescope.keyspace import health
from cachescope.logs import fields

log = logging.getLogger(__name__)
_ERROR_KINDS = sorted(ERROR_HINTS)


class Collector(Protocol):
    namespace: str

    def collect(self, metrics: MetricSet, deadline: float) -> None: ...

    def close(self) -> None: ...


def make_collector(target: TargetConfig) -> Collector:
    """The collector for a target's kind of server."""
    if target.endpoint.kind == "memcached":
        from cachescope.memcached.collect import MemcachedCollector

        return MemcachedCollector(target)
    from cachescope.redis.collect import RedisCollector

    return RedisCollector(target)


_LABEL_VALUE = re.compile(r'="((?:[^"\\]|\\.)*)"')  # a label value, escapes and all


def scrub_labels(metrics: MetricSet, scrubber: Scrubber) -> None:
    """Redact a configured secret from label values, should a server report it as a field.

    Only targets with a secret pay, and they pay one search per family unless the
    secret is there; then only label values are rewritten, never names or values.
    """
    for family in metrics.families():
        if not scrubber.in_labels("".join(family.lines)):
            continue
        family.lines[:] = [
            _LABEL_VALUE.sub(lambda m: f'="{scrubber.label(m.group(1))}"', line)
            for line in family.lines
        ]


class Outcome(NamedTuple):
    """How one scrape of a target ended; what a scrape worker reports to the main process.

    A NamedTuple, not a dataclass: it is built on every scrape of every target, and
    a tuple is the cheapest record to build. It crosses the process boundary in
    columns (frames.Outcomes), not one by one.
    """

    up: float  # 1.0 or 0.0, as `<namespace>_up`
    time: float  # wall-clock time at its end
    duration: float  # seconds
    error: str = ""  # the kind of error (ERROR_HINTS' keys); "" if it succeeded
    message: str = ""  # what went wrong, scrubbed of the target's secret


class TargetState:
    """Everything that outlives one scrape of a target: connection, counters."""

    def __init__(self, target: TargetConfig, persistent: bool = True, max_series: int = 0) -> None:
        self.target = target
        self.scrubber = scrubber_for(target)  # None without a password: nothing to scrub
        self.collector = make_collector(target)
        self.lock = threading.Lock()
        self.errors: Counter[str] = Counter()
        self.scrapes = 0
        self.last_error = ""
        # For the status page: the outcome, wall-clock time and duration of the last scrape.
        self.last_up: float | None = None
        self.last_time = 0.0
        self.last_duration = 0.0
        # Past the fleet's connection budget a target reconnects on every scrape
        # instead of holding a socket; past max_series its scrape fails.
        self.persistent = persistent
        self.max_series = max_series
        # Outcomes not yet reported to the main process, when a scrape worker holds the state.
        self.journal: deque[Outcome] | None = None
        self.sampler = None
        if target.keyspace is not None and target.endpoint.kind == "redis":
            from cachescope.keyspace.sampler import Sampler

            self.sampler = Sampler(target)
            self.sampler.start()

    def close(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
        with self.lock:
            self.collector.close()

    def scrape(self, base_labels: Labels, until: float | None = None) -> MetricSet:
        """Scrape the target once, by its timeout or `until` (monotonic) if sooner; never raises."""
        metrics = MetricSet(base_labels)
        start = time.monotonic()
        deadline = start + self.target.timeout
        if until is not None:  # the client's own scrape timeout is shorter
            deadline = min(deadline, until)
        error: ScrapeError | None = None
        if self.target.refused:  # a discovered node outside discover.allow: no connection
            error = ScrapeError("not_allowed", self.target.refused)
        elif not self.lock.acquire(timeout=max(deadline - start, 0.0)):
            error = ScrapeError("busy", "previous scrape still running")
        else:
            try:
                self.collector.collect(metrics, deadline)
                if self.sampler is not None:
                    health.add_metrics(self.sampler, metrics)
                self._check_series(metrics)
                if self.scrubber is not None:
                    scrub_labels(metrics, self.scrubber)
            except ScrapeError as exc:
                # Drop partial samples of a failed scrape; keep the base labels the
                # collector chose (a Redis target's last known role).
                metrics = MetricSet(metrics.base_labels)
                cut = exc.kind == "timeout" and deadline < start + self.target.timeout
                error = cut_at_deadline(deadline - start) if cut else exc
            except Exception as exc:  # a bug or an odd reply must not cost other targets
                log.error(
                    "unexpected error while scraping",
                    extra=fields(
                        target=self.target.name,
                        exc=self._scrub(traceback.format_exc()),  # may quote the reply
                    ),
                )
                metrics = MetricSet(metrics.base_labels)
                error = ScrapeError("parse", f"{type(exc).__name__}: {exc}")
            finally:
                if not self.persistent:
                    self.collector.close()
                self.lock.release()
        duration = time.monotonic() - start
        outcome = (
            Outcome(1.0, time.time(), duration) if error is None else self.failed(error, duration)
        )
        self.record(outcome)
        self.add_self_metrics(metrics, outcome.up, duration)
        return metrics

    def _check_series(self, metrics: MetricSet) -> None:
        count = metrics.sample_count()
        if self.max_series and count > self.max_series:
            raise ScrapeError(
                "series_limit", f"{count} series, more than the limit of {self.max_series}"
            )

    def _scrub(self, text: str) -> str:
        return text if self.scrubber is None else self.scrubber.text(text)

    def failed(self, error: ScrapeError, duration: float) -> Outcome:
        """Log a failed scrape and give its outcome; the message is scrubbed before either."""
        message = self._scrub(error.message)
        log.warning(
            "scrape failed",
            extra=fields(
                target=self.target.name,
                address=self.target.endpoint.redacted(),
                error=error.kind,
                detail=message,
                hint=error.hint,
            ),
        )
        return Outcome(0.0, time.time(), duration, error.kind, message)

    def record(self, outcome: Outcome) -> None:
        """Count one scrape's outcome: the target's bookkeeping, wherever the scrape ran."""
        self.scrapes += 1
        if outcome.error:
            self.errors[outcome.error] += 1
        self.last_error = outcome.message
        self.last_up, self.last_time, self.last_duration = (
            outcome.up,
            outcome.time,
            outcome.duration,
        )
        if self.journal is not None:
            self.journal.append(outcome)

    def add_self_metrics(self, metrics: MetricSet, up: float, duration: float) -> None:
        namespace = self.collector.namespace
        metrics.add(
            f"{namespace}_up", GAUGE, "Whether the last scrape of the target succeeded.", up
        )
        metrics.add(
            "cachescope_scrape_duration_seconds",
            GAUGE,
            "Duration of the last scrape of the target.",
            duration,
        )
        metrics.add("cachescope_scrapes_total", COUNTER, "Scrapes of the target.", self.scrapes)
        # Every kind from the start, at 0, so that rate() sees a target's first error.
        errors = self.errors
        failed = metrics.family(
            "cachescope_scrape_errors_total",
            COUNTER,
            "Failed scrapes of the target, by kind of error.",
        )
        for kind in sorted(ERROR_HINTS.keys() | errors.keys()) if errors else _ERROR_KINDS:
            failed.add(errors.get(kind, 0), (("error", kind),))
        if namespace == "redis":  # names that redis_exporter's dashboards use
            metrics.add(
                "redis_exporter_last_scrape_duration_seconds",
                GAUGE,
                "Duration of the last scrape of the target.",
                duration,
            )
            metrics.add(
                "redis_exporter_last_scrape_error",
                GAUGE,
                "1 if the last scrape failed; the error is in the label.",
                0.0 if up else 1.0,
                (("err", self.last_error),),
            )


class Task(NamedTuple):
    """A target to scrape, with the labels its samples carry."""

    state: TargetState
    labels: Labels


Batch = list[Task]  # targets to scrape


class Scraper:
    """Scrapes many targets concurrently, each within its own timeout.

    A few threads take targets off a shared queue. More join, up to
    `max_concurrency` (--max-concurrency), only while targets hold threads for long (hung servers,
    slow networks), so healthy targets never wait behind them; a healthy fleet
    is scraped without dozens of threads contending for the interpreter lock,
    which costs CPU and gains nothing.
    """

    base = 4  # threads a run starts with, and keeps free of slow targets
    patience = 0.05  # seconds after which a target counts as slow

    def __init__(self, max_concurrency: int = 32) -> None:
        self.max_concurrency = max(max_concurrency, 1)  # scrape threads at most

    def scrape_many(self, jobs: Batch, budget: float | None = None) -> Joined:
        """Scrape every task's target, within `budget` seconds if given; their families,
        rendered and joined by name.

        Each thread renders its own target's text, so the caller holds bytes,
        not hundreds of thousands of samples, when a fleet is large.
        """
        # The socket deadline bounds each scrape; the extra second covers DNS
        # and thread start-up, which the socket timeout does not.
        limit = max((task.state.target.timeout for task in jobs), default=0.0) + 1.0
        if budget is not None:  # Prometheus' scrape timeout, less a margin: it gives up then
            limit = min(limit, max(budget, 0.0))
        deadline = time.monotonic() + limit
        # Targets stop a little sooner, so that one cut short reports its own timeout.
        run = _Run(jobs, deadline - min(0.2, limit / 10) if budget is not None else None)
        run.supervise(deadline, self.base, self.max_concurrency, self.patience)
        joined = Joined()
        late = ScrapeError("timeout", f"still running at the scrape's deadline ({limit:.3g}s)")
        if budget is not None and limit == max(budget, 0.0):  # Prometheus' deadline, not ours
            late = cut_at_deadline(limit)
        for task, rendered in zip(jobs, run.results, strict=True):
            if rendered is None:  # still running or never begun: down, a late result dropped
                metrics = MetricSet(task.labels)
                outcome = task.state.failed(late, limit)
                task.state.record(outcome)
                task.state.add_self_metrics(metrics, 0.0, limit)
                rendered = metrics.rendered()
            joined.add(rendered)
        return joined

    def close(self) -> None:
        """Nothing to release: a run's threads end with it."""


class _Run:
    """One scrape_many: a queue of targets, the threads working on it, their results."""

    def __init__(self, jobs: Batch, until: float | None) -> None:
        self.jobs = jobs
        self.until = until  # when every target's scrape must end, if sooner than its timeout
        self.queue = deque(range(len(jobs)))
        self.results: list[Rendered | None] = [None] * len(jobs)
        self.lock = threading.Condition()
        self.started: dict[int, float] = {}  # busy thread -> when its current target began
        self.threads = 0
        self.finished = 0

    def supervise(self, deadline: float, base: int, most: int, patience: float) -> None:
        """Keep `base` threads free of slow targets until all are done or the deadline."""
        with self.lock:
            while self.finished < len(self.jobs):
                now = time.monotonic()
                if now >= deadline:
                    break
                slow = sum(1 for began in self.started.values() if now - began > patience)
                for _ in range(min(base - (self.threads - slow), most - self.threads)):
                    if len(self.queue) > self.threads - slow:
                        self.threads += 1
                        threading.Thread(target=self._work, name="scrape", daemon=True).start()
                self.lock.wait(min(patience, deadline - now))
            self.queue.clear()  # threads still busy finish their target, then stop

    def _work(self) -> None:
        me = threading.get_ident()
        while True:
            with self.lock:
                if not self.queue:
                    self.threads -= 1
                    return
                index = self.queue.popleft()
                self.started[me] = time.monotonic()
            task = self.jobs[index]
            rendered = task.state.scrape(task.labels, self.until).rendered()
            with self.lock:
                del self.started[me]  # idle until its next target: not a slow one
                self.results[index] = rendered
                self.finished += 1
                if self.finished == len(self.jobs):
                    self.lock.notify()
