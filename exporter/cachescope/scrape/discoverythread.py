"""Discovery off the request path: one background thread per seed.

A seed's thread asks it (and, if it fails, the nodes it knew) for the topology
every discovery interval; a request reads the last topology found and its age,
and never waits on a seed. A seed that hangs holds up its own thread only, so
/metrics still costs each target no more than its own timeout. Like the
keyspace sampler, a thread ends at its next check once stopped.

    cachescope_discovery_age_seconds{seed="orders"} 12.5
    cachescope_discovery_errors_total{seed="orders"} 0
    cachescope_discovery_targets{seed="orders"} 6
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from cachescope.config.records import TargetConfig
from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import COUNTER, GAUGE
from cachescope.logs import fields
from cachescope.scrape.discovery import make_discovery

log = logging.getLogger(__name__)

# Between two rounds at least this long, so a seed that fails at once (connection
# refused) with a tiny interval is not asked in a tight loop.
MIN_PAUSE = 0.1


class DiscoveryThread:
    """Asks one seed for its topology every discovery interval, in its own thread."""

    def __init__(self, target: TargetConfig) -> None:
        assert target.discovery is not None
        self.target = target
        self.interval = target.discovery.interval
        self.discovery = make_discovery(target)
        self.errors = 0  # rounds in which no source answered
        self._stop = threading.Event()
        self._first_round = threading.Event()
        self._started = time.monotonic()
        self._succeeded: float | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"discovery-{target.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end; one in a query ends when the query does (its timeout)."""
        self._stop.set()

    def wait_first_round(self, deadline: float) -> None:
        """Block until the first round has ended, or until `deadline` (monotonic)."""
        self._first_round.wait(max(deadline - time.monotonic(), 0.0))

    def targets(self) -> list[TargetConfig]:
        """The last topology found: what the seed stands for, or [] before any answer."""
        return list(self.discovery.known)

    @property
    def age(self) -> float:
        """Seconds since the last successful round; since the seed was configured if none."""
        succeeded = self._succeeded
        return time.monotonic() - (self._started if succeeded is None else succeeded)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self._round()
            self._first_round.set()
            self._stop.wait(max(self.interval - (time.monotonic() - started), MIN_PAUSE))

    def _round(self) -> None:
        try:
            answered = self.discovery.refresh()
        except Exception as exc:  # a bug must not end discovery for good
            answered = False
            # The type only: an unexpected exception's text may quote what it failed on.
            failed = fields(discovery=self.target.name, error=type(exc).__name__)
            log.error("discovery round failed", extra=failed)
            log.debug("discovery round failure", exc_info=True)
        if answered:
            self._succeeded = time.monotonic()
        else:
            self.errors += 1


def start_all(threads: Iterable[DiscoveryThread]) -> None:
    """Start the threads and wait for their first rounds, at most one seed timeout in all.

    Waiting here, at start and reload rather than in a request, lets the first
    /metrics list a whole cluster rather than its seed alone, so Prometheus does not
    see the fleet change shape a moment after start. The seeds are asked in
    parallel, so the wait is one timeout however many seeds hang; a seed that has
    not answered by then is reported as known so far (watched itself), and its
    thread goes on asking.
    """
    threads = list(threads)
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + max((t.target.timeout for t in threads), default=0.0)
    for thread in threads:
        thread.wait_first_round(deadline)


def add_metrics(threads: Iterable[DiscoveryThread], metrics: MetricSet) -> None:
    """Each seed's discovery health, labelled seed=<the seed target's name>."""
    for thread in threads:
        labels = (("seed", thread.target.name),)
        metrics.add(
            "cachescope_discovery_age_seconds",
            GAUGE,
            "Seconds since discovery from this seed last succeeded "
            "(since the seed was configured, if never).",
            thread.age,
            labels,
        )
        metrics.add(
            "cachescope_discovery_errors_total",
            COUNTER,
            "Discovery rounds in which neither the seed nor any node known before answered.",
            thread.errors,
            labels,
        )
        metrics.add(
            "cachescope_discovery_targets",
            GAUGE,
            "Targets the last successful discovery from this seed found.",
            len(thread.discovery.known),
            labels,
        )
