"""The configuration audit off the request path: one background thread per fleet.

The thread walks the fleet's targets one at a time, auditing each at most once per
--audit.interval, the first time one interval after it is first watched (the same sample,
figures and checks as `cachescope analyze`), and keeps each target's last findings. A
scrape adds the stored series and does no I/O, so an audit costs the targets one extra
connection now and then, never a slower /metrics.

    cachescope_config_finding{instance="cache-a",check="maxmemory-unset",severity="medium"} 1
    cachescope_config_audit_age_seconds{instance="cache-a"} 42.1
    cachescope_config_audit_checks_not_run{instance="cache-a"} 0
    cachescope_config_audit_errors_total{instance="cache-a"} 0
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from cachescope.analyze.audit import audit
from cachescope.analyze.figures import memcached_figures, redis_figures
from cachescope.analyze.sampling import sample
from cachescope.config.records import TargetConfig
from cachescope.errors import ScrapeError, scrub
from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import COUNTER, GAUGE
from cachescope.logs import fields
from cachescope.redis.identity import with_role

log = logging.getLogger(__name__)

# The two samples an audit takes are this far apart: rates need two, and a second is
# enough for the checks, which read settings against rough write and eviction rates.
SAMPLE_SECONDS = 1.0
# Between two audits at least this long, so a fleet of targets that fail at once
# (connection refused) with a tiny interval is not audited in a tight loop.
MIN_PAUSE = 0.1
# The longest the thread sleeps before it looks at the fleet again: a target added by a
# reload or by discovery is audited within this, not one whole interval later.
MAX_PAUSE = 1.0

Labels = tuple[tuple[str, str], ...]
TargetsOf = Callable[[], list[TargetConfig]]


@dataclass(frozen=True, slots=True)
class Audited:
    """One target's last audit: its findings as (check, priority), when, and its failures."""

    target: TargetConfig  # the settings it ran with: a changed target is audited afresh
    seen: float  # monotonic: when the auditor first saw the target (the age before any audit)
    findings: tuple[tuple[str, str], ...] = ()
    not_run: int = 0  # checks that could not run (CONFIG refused, a name unanswered)
    succeeded: float | None = None  # monotonic: the end of the last audit that read the target
    attempted: float | None = None  # monotonic: the end of the last audit, read or not
    errors: int = 0  # audits that could not read the target
    role: str = ""  # INFO's role at the last audit that read the target ("" for a sentinel)

    def age(self, now: float) -> float:
        """Seconds since the last audit that read the target; since it was first seen if none."""
        return now - (self.seen if self.succeeded is None else self.succeeded)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one audit of one target found, or why it could not read the target."""

    findings: tuple[tuple[str, str], ...] = ()
    not_run: int = 0
    error: str = field(default="")  # "" when the target was read
    role: str = ""  # INFO's role ('master', 'slave'); "" for Memcached and sentinels


def audit_target(target: TargetConfig) -> Outcome:
    """Sample the target, judge its settings; never raises, errors scrubbed of its password."""
    try:
        samples = sample(target, SAMPLE_SECONDS)
        if target.endpoint.kind == "memcached":
            figures = memcached_figures(samples)
        else:
            figures = redis_figures(samples)
        found, ran = audit(target, figures)
    except ScrapeError as exc:
        return Outcome(error=scrub(f"{exc.kind}: {exc.message}", target))
    except Exception as exc:  # a bug or an odd reply must not end the auditor
        # The type only: an unexpected exception's text may quote what it failed on.
        return Outcome(error=f"unexpected {type(exc).__name__}")
    findings = tuple(sorted((rec["check"], rec["priority"]) for rec in found))
    return Outcome(findings, len(ran["notRun"]), role=figures.role or "")


class Auditor:
    """Audits the targets `targets()` lists, one at a time, each once per `interval`."""

    def __init__(
        self, interval: float, targets: TargetsOf, run: Callable[[TargetConfig], Outcome]
    ) -> None:
        self.interval = interval
        self._targets = targets
        self._run = run  # audit_target; a test may pass a stand-in
        self._results: dict[str, Audited] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="config-audit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end; one in an audit ends when the audit does (its timeouts)."""
        self._stop.set()

    def results(self) -> dict[str, Audited]:
        """The last audit of each target, by name (a snapshot: the thread swaps, never edits)."""
        return self._results

    def _loop(self) -> None:
        while not self._stop.is_set():
            due = self._next_due()
            if due is None or due[1] > 0:
                wait = MAX_PAUSE if due is None else due[1]
                self._stop.wait(min(max(wait, MIN_PAUSE), MAX_PAUSE))
                continue
            self._audit(due[0])

    def _next_due(self) -> tuple[TargetConfig, float] | None:
        """The target audited (or first seen) longest ago, and seconds until it is due.

        A target's first audit is one interval after it is first seen: a restart or a
        reload does not audit the whole fleet at once, and a short-lived exporter (a test,
        a one-off run) does not audit at all.
        """
        now = time.monotonic()
        targets = self._targets()
        known, fresh = self._results, {}
        for target in targets:
            old = known.get(target.name)
            fresh[target.name] = old if old and old.target == target else Audited(target, now)
        self._results = fresh  # targets gone or changed drop out here
        if not fresh:
            return None
        oldest = min(fresh.values(), key=_last)
        return oldest.target, _last(oldest) + self.interval - now

    def _audit(self, target: TargetConfig) -> None:
        outcome = self._run(target)
        now = time.monotonic()
        old = self._results.get(target.name)
        if old is None or old.target != target:  # removed or changed while it ran
            return
        if outcome.error:
            log.warning(
                "configuration audit could not read the target",
                extra=fields(target=target.name, error=outcome.error),
            )
            new = replace(old, attempted=now, errors=old.errors + 1)
        else:
            new = replace(
                old,
                findings=outcome.findings,
                not_run=outcome.not_run,
                role=outcome.role,
                succeeded=now,
                attempted=now,
            )
        self._results = {**self._results, target.name: new}

    def add_metrics(
        self, metrics: MetricSet, target: TargetConfig, labels: Labels, role: bool = False
    ) -> None:
        """A target's stored findings and audit health, with `labels` (no I/O).

        `role`: add --append-instance-role-label's label, as the audit last saw the role;
        before an audit has read the target there is none, and no series either, so that
        the target's series never appear both with and without it.
        """
        audited = self._results.get(target.name)
        if audited is None or audited.target != target:
            return
        if role and target.redis.append_instance_role_label and target.endpoint.kind == "redis":
            if audited.succeeded is None:
                return
            labels = with_role(labels, audited.role)  # a sentinel's "" adds none, as its scrape
        add_audited(metrics, audited, labels, time.monotonic())


def _last(audited: Audited) -> float:
    """When the target was last audited, or first seen if never."""
    return audited.seen if audited.attempted is None else audited.attempted


def add_audited(metrics: MetricSet, audited: Audited, labels: Labels, now: float) -> None:
    """The series of one target's last audit."""
    finding = metrics.family(
        "cachescope_config_finding",
        GAUGE,
        "1 while the configuration audit finds this check's issue on the target "
        "(severity: its priority); docs/audit.md lists the checks.",
    )
    for check, priority in audited.findings:
        finding.add(1, labels + (("check", check), ("severity", priority)))
    metrics.add(
        "cachescope_config_audit_age_seconds",
        GAUGE,
        "Seconds since the configuration audit last read the target (since it was watched, "
        "if never).",
        audited.age(now),
        labels,
    )
    metrics.add(
        "cachescope_config_audit_checks_not_run",
        GAUGE,
        "Checks of the last configuration audit that could not run (CONFIG refused or "
        "renamed away, a setting not answered).",
        audited.not_run,
        labels,
    )
    metrics.add(
        "cachescope_config_audit_errors_total",
        COUNTER,
        "Configuration audits that could not read the target.",
        audited.errors,
        labels,
    )
