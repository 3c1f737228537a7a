"""Cache fleet overview: every Redis and Memcached target in one table, worst first."""

from __future__ import annotations

from typing import Any

from cachescope.dashboards import grafana
from cachescope.dashboards.bounds import Bound, alerting
from cachescope.dashboards.common import (
    NONZERO_RED,
    UP_MAPPINGS,
    instance_variable,
    job_variable,
    panel_kw,
    q,
)

UID = "cachescope-fleet"
UP = "(redis_up{SEL} or memcached_up{SEL})"
FIRING = 'ALERTS{SEL, alertstate="firing"'
# Worst first: a target that is down outranks any alert; a critical outranks ten warnings.
SCORE = (
    f"1000 * max by (job, instance) (1 - {UP})\n"
    "+ on (job, instance) (\n"
    "  sum by (job, instance) (\n"
    f'    100 * count by (job, instance, severity) ({FIRING}, severity="critical"}})\n'
    f'    or 10 * count by (job, instance, severity) ({FIRING}, severity="warning"}})\n'
    f'    or count by (job, instance, severity) ({FIRING}, severity="info"}})\n'
    "  )\n"
    f"  or max by (job, instance) (0 * {UP})\n"
    ")"
)
INFO = (
    "max by (job, instance, role, version) (\n"
    '  label_replace(redis_instance_info{SEL}, "version", "$1", "redis_version", "(.*)")\n'
    '  or label_replace(memcached_version{SEL}, "role", "memcached", "", "")\n'
    ")"
)
# The audit's findings with their priority as a number, so the table sorts high first and
# colours each: high 3, medium 2, low 1 (the series' own value is always 1).
FINDINGS = (
    "max by (job, instance, check, severity) (\n"
    '  3 * cachescope_config_finding{SEL, severity="high"}\n'
    '  or 2 * cachescope_config_finding{SEL, severity="medium"}\n'
    '  or cachescope_config_finding{SEL, severity="low"}\n'
    ")"
)
PRIORITY_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "3": {"text": "high", "color": "red", "index": 0},
            "2": {"text": "medium", "color": "orange", "index": 1},
            "1": {"text": "low", "color": "yellow", "index": 2},
        },
    }
]
ALERT_COUNT = f"count by (job, instance) ({FIRING}}})\nor max by (job, instance) (0 * {UP})"


def _by_target(expr: str) -> str:
    return f"max by (job, instance) ({expr})"


def _target_links() -> list[dict[str, Any]]:
    """From a table row to the instance's own dashboard."""
    variables = (
        "var-job=${__data.fields.job}&var-instance=${__data.fields.instance}&${__url_time_range}"
    )
    return [
        {"title": "Redis instance", "url": f"/d/cachescope-redis?{variables}"},
        {"title": "Memcached instance", "url": f"/d/cachescope-memcached?{variables}"},
    ]


def fleet_table(thresholds: dict[str, Any]) -> grafana.Panel:
    """One row per target, with the numbers the alerts look at, coloured as they fire."""
    queries = [
        ("score", SCORE),
        ("info", INFO),
        ("up", _by_target(UP)),
        ("used", _by_target("redis_memory_used_bytes{SEL} or memcached_current_bytes{SEL}")),
        ("max", _by_target("redis_memory_max_bytes{SEL} or memcached_limit_bytes{SEL}")),
        ("redis memory", _by_target("instance:redis_memory_utilization:ratio{SEL}")),
        ("memcached memory", _by_target("instance:memcached_memory_utilization:ratio{SEL}")),
        ("redis hits", _by_target("instance:redis_keyspace_hit_ratio:ratio_rate5m{SEL}")),
        ("memcached hits", _by_target("instance:memcached_hit_ratio:ratio_rate5m{SEL}")),
        (
            "ops",
            _by_target(
                "instance:redis_commands_processed:rate5m{SEL}"
                " or instance:memcached_commands:rate5m{SEL}"
            ),
        ),
        (
            "evictions",
            _by_target(
                "instance:redis_evicted_keys:rate5m{SEL}"
                " or instance:memcached_evicted_items:rate5m{SEL}"
            ),
        ),
        (
            "clients",
            _by_target("redis_connected_clients{SEL} or memcached_current_connections{SEL}"),
        ),
        ("alerts", ALERT_COUNT),
    ]
    targets = [
        grafana.target(q(expr), ref=chr(ord("A") + i), instant=True)
        for i, (_, expr) in enumerate(queries)
    ]
    value = {name: f"Value #{chr(ord('A') + i)}" for i, (name, _) in enumerate(queries)}
    t = thresholds
    columns = [
        grafana.column(value["score"], "worst-first score"),
        grafana.column(
            value["up"],
            "up",
            mappings=UP_MAPPINGS,
            **panel_kw(t, runbooks=("RedisDown", "MemcachedDown")),
        ),
        grafana.column(value["used"], "memory used", "bytes"),
        grafana.column(value["max"], "memory max", "bytes"),
        grafana.column(
            value["redis memory"],
            "Redis memory / max",
            "percentunit",
            **alerting(t, Bound("RedisMemoryNearLimit")),
        ),
        grafana.column(
            value["memcached memory"],
            "Memcached memory / limit",
            "percentunit",
        ),
        grafana.column(
            value["redis hits"],
            "Redis hit ratio",
            "percentunit",
            **alerting(t, Bound("RedisHitRatioLow")),
        ),
        grafana.column(
            value["memcached hits"],
            "Memcached hit ratio",
            "percentunit",
            **alerting(t, Bound("MemcachedHitRatioLow")),
        ),
        grafana.column(value["ops"], "ops/s", "ops"),
        grafana.column(
            value["evictions"],
            "evictions/s",
            "short",
            **panel_kw(t, runbooks=("RedisEvictionsHigh", "MemcachedEvictionsHigh")),
        ),
        grafana.column(value["clients"], "clients"),
        grafana.column(value["alerts"], "firing alerts"),
        {
            "matcher": {"id": "byName", "options": "instance"},
            "properties": [{"id": "links", "value": _target_links()}],
        },
    ]
    panel = grafana.table(
        "Every target, worst first",
        targets,
        "One row per Redis and Memcached target. Sorted by a score: 1000 if down, plus 100 per"
        " firing critical alert, 10 per warning, 1 per info. Memory and hit ratio turn orange"
        " and red at the alert thresholds; click an instance for its dashboard.",
        columns,
        sort_by="worst-first score",
        hide=[value["info"]],
        height=12,
    )
    return panel


def findings_table(thresholds: dict[str, Any]) -> grafana.Panel:
    """One row per configuration finding across the fleet: instance, check, priority."""
    runbook = panel_kw(thresholds, runbooks=("CachescopeConfigFinding",))["links"]
    return grafana.table(
        "Configuration findings",
        [grafana.target(q(FINDINGS), instant=True)],
        "What the last configuration audit of each target found (cachescope serve"
        " --audit.interval, default every 15 minutes): one row per setting that will hurt that"
        " instance, high priority first. `cachescope analyze` shows each finding's evidence and"
        " exact fix; docs/audit.md lists the checks. Empty when every target is configured well"
        " or the audit is off.",
        [grafana.column("Value", "priority", mappings=PRIORITY_MAPPINGS, links=runbook)],
        sort_by="priority",
        hide=["severity"],
        height=8,
    )


def _stats(thresholds: dict[str, Any]) -> list[grafana.Panel]:
    down = [
        ("Redis targets down", "sum(1 - redis_up{SEL})", "RedisDown"),
        ("Memcached targets down", "sum(1 - memcached_up{SEL})", "MemcachedDown"),
    ]
    panels = [
        grafana.stat(
            title,
            [grafana.target(q(expr))],
            f"Targets whose last scrape failed ({alert} fires after a minute).",
            mappings=NONZERO_RED,
            **panel_kw(thresholds, runbooks=(alert,)),
        )
        for title, expr, alert in down
    ]
    for severity in ("critical", "warning", "info"):
        expr = f'count({FIRING}, severity="{severity}"}}) or vector(0)'
        panels.append(
            grafana.stat(
                f"Firing {severity} alerts",
                [grafana.target(q(expr))],
                f"cachescope alerts of severity {severity} firing now for these targets.",
                mappings=NONZERO_RED if severity == "critical" else (),
            )
        )
    return panels


def build(thresholds: dict[str, Any]) -> dict[str, Any]:
    """The fleet overview dashboard."""
    trends = [
        grafana.timeseries(
            "Hit ratio by target",
            grafana.targets(
                (q("instance:redis_keyspace_hit_ratio:ratio_rate5m{SEL}"), "{{instance}}"),
                (q("instance:memcached_hit_ratio:ratio_rate5m{SEL}"), "{{instance}}"),
            ),
            "Share of key lookups (Redis) and gets (Memcached) served from cache, over 5 minutes.",
            unit="percentunit",
        ),
        grafana.timeseries(
            "Ops/s by target",
            grafana.targets(
                (q("instance:redis_commands_processed:rate5m{SEL}"), "{{instance}}"),
                (q("instance:memcached_commands:rate5m{SEL}"), "{{instance}}"),
            ),
            "Commands per second, over 5 minutes.",
            unit="ops",
        ),
        grafana.timeseries(
            "Evictions/s by target",
            grafana.targets(
                (q("instance:redis_evicted_keys:rate5m{SEL}"), "{{instance}}"),
                (q("instance:memcached_evicted_items:rate5m{SEL}"), "{{instance}}"),
            ),
            "Keys (Redis) and items (Memcached) evicted per second to make room, over 5 minutes.",
            **panel_kw(thresholds, runbooks=("RedisEvictionsHigh", "MemcachedEvictionsHigh")),
        ),
    ]
    panels = [
        grafana.row("Fleet"),
        *_stats(thresholds),
        fleet_table(thresholds),
        findings_table(thresholds),
        grafana.row("Trends"),
        *trends,
    ]
    return grafana.dashboard(
        UID,
        "Cache fleet overview",
        "Every Redis and Memcached target cachescope watches: which is down, full, missing or"
        " alerting, worst first.",
        [job_variable("cachescope_scrapes_total"), instance_variable("cachescope_scrapes_total")],
        panels,
    )
