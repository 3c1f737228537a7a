"""What each MCP tool answers, as plain data: no SDK here, so the tools test without a client.

Every answer is built from what the exporter itself reads (INFO, stats, CLUSTER NODES,
SENTINEL MASTERS / REPLICAS, the keyspace sampler's series), about a target the config
names or an allow pattern admits, and is scrubbed of the target's password.
"""

from __future__ import annotations

import difflib
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cachescope.alerts import BY_NAME
from cachescope.analyze import findings as judged
from cachescope.analyze.cli import analyze_one
from cachescope.analyze.figures import Figures, memcached_figures, redis_figures
from cachescope.analyze.output import scrubbed
from cachescope.analyze.sampling import Reading, Samples
from cachescope.config.records import TargetConfig
from cachescope.config.schema import parse_duration
from cachescope.fleet import Fleet, TargetNotAllowed
from cachescope.mcpserver import keyspace, topology
from cachescope.mcpserver.bounds import ToolRefused, clip, fitted
from cachescope.rules.render import levels, render_alert
from cachescope.scrape.state import TargetState

# analyze_target's interval: rates need at least a second; past a minute the assistant waits.
MIN_INTERVAL, MAX_INTERVAL = 1.0, 60.0
# fleet_health judges rates over two scrapes at least this far apart.
RATE_GAP = 1.0
# Targets fleet_health scrapes at once (as serve's --max-concurrency default).
CONCURRENCY = 32
# Lines fleet_health and list_targets return at most: the worst, or the first, ones.
MAX_LINES = 500


class Toolbox:
    """The tools over one fleet: configured, discovered and allowed targets; read-only."""

    def __init__(self, fleet: Fleet, thresholds: dict[str, Any]) -> None:
        self.fleet = fleet
        self.thresholds = thresholds
        # The last reading of each target by name, with its monotonic time: a second
        # fleet_health call judges rates from it instead of sampling twice.
        self._readings: dict[str, tuple[Reading, float]] = {}

    def state(self, target: str) -> TargetState:
        """A target's state, refused before any connection unless the config allows it."""
        try:
            state = self.fleet.resolve(target)
        except TargetNotAllowed as exc:
            raise ToolRefused(f"{exc}; list_targets shows the configured targets") from None
        if state.target.refused:  # a discovered node outside discover.allow
            raise ToolRefused(f"{state.target.name}: {state.target.refused}")
        return state

    def list_targets(self) -> dict[str, Any]:
        """Configured and discovered targets, their last outcome, and the allow patterns."""
        self.fleet.refresh()
        # Standalone, nothing reads the targets in the background: read those never read,
        # or an assistant starting here would see every target's up and role as unknown.
        self._scrape([s for s in list(self.fleet.states.values()) if s.last_up is None])
        targets = [self._describe(seed, None) | _seed(seed) for seed in self.fleet.seeds.values()]
        for config in self.fleet.wanted():
            state = self.fleet.states.get(config.name)
            targets.append(self._describe(config, state))
        rows, more = clip(targets, MAX_LINES)
        return {
            "targets": rows,
            "more": more,
            "allowPatterns": [rule.pattern.text for rule in self.fleet.config.allow],
        }

    def _describe(self, config: TargetConfig, state: TargetState | None) -> dict[str, Any]:
        labels = dict(config.labels)
        reading = self._readings.get(config.name)
        role = None if reading is None else _role(reading[0])
        row: dict[str, Any] = {
            "name": config.name,
            "kind": config.endpoint.kind,
            "address": config.endpoint.redacted(),
            "role": role,
            "cluster": labels.get("cluster"),
            "masterSet": labels.get("master_set"),
            "labels": labels,
            "keyspaceSampling": config.keyspace is not None,
        }
        row |= _outcome(state)
        return row

    def fleet_health(self) -> dict[str, Any]:
        """One line per target, worst first, from two scrapes at least RATE_GAP apart."""
        self.fleet.refresh()
        states = list(self.fleet.states.values())
        start = time.monotonic()
        fresh = [s for s in states if s.target.name not in self._readings]
        if fresh:  # never read: a first scrape now, the second after RATE_GAP
            self._scrape(fresh)
            time.sleep(max(RATE_GAP - (time.monotonic() - start), 0.0))
        lines = [_line(state, samples, self.thresholds) for state, samples in self._scrape(states)]
        lines.sort(key=_badness)
        rows, more = clip(lines, MAX_LINES)
        return {"targets": rows, "more": more, "judgedOverSeconds": RATE_GAP}

    def _scrape(self, states: list[TargetState]) -> list[tuple[TargetState, Samples | None]]:
        """Scrape each state once; pair it with two readings when an older one exists."""
        if not states:
            return []
        with ThreadPoolExecutor(min(len(states), CONCURRENCY)) as pool:
            return list(pool.map(self._scrape_one, states))

    def _scrape_one(self, state: TargetState) -> tuple[TargetState, Samples | None]:
        start = time.monotonic()
        metrics = state.scrape(state.target.labels)
        if not state.last_up:
            self._readings.pop(state.target.name, None)
            return state, None
        reading, now = Reading(metrics), time.monotonic()
        before = self._readings.get(state.target.name)
        self._readings[state.target.name] = (reading, now)
        if before is None or now - before[1] < RATE_GAP / 2:
            return state, None
        return state, Samples(before[0], reading, now - before[1], now - start)

    def analyze_target(self, target: str, interval: str) -> dict[str, Any]:
        """The analyze report of one allowed target, sampled twice `interval` apart."""
        try:
            seconds = parse_duration(interval)
        except ValueError as exc:
            raise ToolRefused(f"interval: {exc}") from None
        if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
            raise ToolRefused(f"interval must be between 1s and 60s, not {interval}")
        config = self.state(target).target
        return analyze_one(config, seconds, self.thresholds)

    def keyspace_report(self, target: str) -> dict[str, Any]:
        """The keyspace sampler's last pass over one target."""
        state = self.state(target)
        if state.target.endpoint.kind != "redis":
            raise ToolRefused(
                f"target {state.target.name} is not Redis; keyspace sampling is for Redis"
            )
        if state.sampler is None:
            raise ToolRefused(
                f"target {state.target.name} has no keyspace sampler; add a `keyspace:` "
                "section to its entry in the config to turn it on"
            )
        return _scrubbed(state, keyspace.report(state.target.name, state.sampler))

    def topology(self, target: str) -> dict[str, Any]:
        """Cluster nodes and slots, a sentinel's master sets, or a server's replication."""
        state = self.state(target)
        answer = _scrubbed(state, topology.read(state.target))
        # A big cluster or sentinel lists fewer nodes or sets rather than refusing the counts.
        for key in ("nodes", "masterSets"):
            if key in answer:
                answer = fitted(answer, key)
        return answer

    def explain_alert(self, alertname: str) -> dict[str, Any]:
        """An alert's meaning, its rules as rendered with the thresholds in force, its runbook."""
        alert = BY_NAME.get(alertname)
        if alert is None:
            near = _near(alertname)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise ToolRefused(f"no alert named {alertname[:80]}{hint}")
        entry = self.thresholds["alerts"][alert.name]
        common = {key: self.thresholds[key] for key in ("selector", "exporter_selector")}
        rules = [
            render_alert(alert.rule, severity, {**common, **params}, self.thresholds["runbook_url"])
            for severity, params in levels(entry)
        ]
        return {
            "alert": alert.name,
            "category": alert.category,
            "enabled": entry.get("enabled", True) is not False,
            "thresholds": {key: value for key, value in entry.items() if key != "enabled"},
            "rules": rules,
            "action": alert.action,
            "judgedByAnalyze": alert.check is not None,
            "whyNotJudged": alert.unjudged or None,
            "runbook": alert.runbook(),
        }


def _near(alertname: str) -> list[str]:
    """Up to five alert names a mistyped or partial `alertname` may have meant."""
    typed = alertname[:200].lower()
    by_lower = {name.lower(): name for name in BY_NAME}
    # Close spellings first (a typo), then names that contain what was typed (a part).
    close = difflib.get_close_matches(typed, list(by_lower), n=5, cutoff=0.8)
    near = [by_lower[name] for name in close]
    near += sorted(name for name in BY_NAME if typed in name.lower() and name not in near)
    return near[:5]


def _seed(seed: TargetConfig) -> dict[str, Any]:
    """What a list_targets row of a cluster seed adds: it names the cluster its nodes form."""
    return {
        "cluster": seed.name,
        "discovers": "cluster",
        "note": "a cluster seed: its nodes are listed by their own names; topology and "
        "analyze_target answer to this name with the seed node",
    }


def _outcome(state: TargetState | None) -> dict[str, Any]:
    """A state's last scrape, or that it has not been scraped yet."""
    if state is None or state.last_up is None:
        return {"up": None, "lastError": None, "lastScrapeAgeSeconds": None}
    return {
        "up": bool(state.last_up),
        "lastError": state.last_error or None,
        "lastScrapeAgeSeconds": round(max(time.time() - state.last_time, 0.0), 1),
    }


def _role(reading: Reading) -> str | None:
    return _role_name(reading.label("redis_instance_info", "role"))


def _role_name(role: str | None) -> str | None:
    """INFO's role, with "replica" for its "slave" as topology says it."""
    return "replica" if role == "slave" else role


def _line(state: TargetState, samples: Samples | None, thresholds: dict[str, Any]) -> dict:
    """One target's line of fleet_health: status, worst priority, findings, a few figures."""
    config = state.target
    line: dict[str, Any] = {"target": config.name, "kind": config.endpoint.kind}
    if not state.last_up:
        error = config.refused or state.last_error or "not scraped"
        kind = next(iter(state.errors), "") if state.errors else ""
        found = judged.unreachable(config.endpoint.kind, kind, error, thresholds)
        line |= {"status": "error", "error": error}
    elif samples is None:
        line["status"] = "success"
        found = []
    else:
        figures = _figures(config, samples)
        found = judged.evaluate(figures, thresholds)
        line |= {"status": "success", "role": _role_name(figures.role)} | _figures_line(figures)
    line["findings"] = [finding.as_dict() for finding in found]
    line["worst"] = min((f.priority for f in found), key=judged.PRIORITIES.index, default=None)
    return scrubbed(line, state.scrubber) if state.scrubber is not None else line


def _figures(config: TargetConfig, samples: Samples) -> Figures:
    if config.endpoint.kind == "memcached":
        return memcached_figures(samples)
    return redis_figures(samples)


def _figures_line(f: Figures) -> dict[str, Any]:
    hit, memory = f.hit_ratio, f.memory_ratio
    return {
        "hitRatePercent": None if hit is None else round(hit * 100, 1),
        "memoryUsedPercent": None if memory is None else round(memory * 100, 1),
        "evictionsPerSecond": None
        if f.evictions_per_second is None
        else round(f.evictions_per_second, 2),
        "opsPerSecond": None if f.ops_per_second is None else round(f.ops_per_second, 1),
        "clients": f.clients,
    }


def _badness(line: dict[str, Any]) -> tuple[int, int, str]:
    """Sort key: errors first, then by worst priority, then by name."""
    worst = line.get("worst")
    rank = judged.PRIORITIES.index(worst) if worst else len(judged.PRIORITIES)
    return (0 if line["status"] == "error" else 1, rank, line["target"])


def _scrubbed(state: TargetState, data: dict[str, Any]) -> dict[str, Any]:
    return data if state.scrubber is None else scrubbed(data, state.scrubber)
