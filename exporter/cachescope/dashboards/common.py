"""Pieces several dashboards share: selectors, variables, up/down mappings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cachescope.dashboards import grafana
from cachescope.dashboards.bounds import Bound, alerting, runbook_links

# Every cache query carries these matchers; `SEL` in a query template is replaced by them.
SELECTOR = 'job=~"$job", instance=~"$instance"'
RATE = "$__rate_interval"

UP_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "down", "color": "red", "index": 0},
            "1": {"text": "up", "color": "green", "index": 1},
        },
    }
]
OK_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "0": {"text": "failed", "color": "red", "index": 0},
            "1": {"text": "ok", "color": "green", "index": 1},
        },
    }
]
NONZERO_RED = [
    {
        "type": "range",
        "options": {"from": 1, "to": 1e18, "result": {"color": "red", "index": 0}},
    }
]


def q(template: str, selector: str = SELECTOR) -> str:
    """A query template with `SEL` replaced by the dashboard's matchers."""
    return template.replace("SEL", selector)


def job_variable(metric: str) -> dict[str, Any]:
    """The Prometheus jobs that publish `metric`."""
    return grafana.query_variable("job", "Job", f"label_values({metric}, job)")


def instance_variable(metric: str, extra: str = "") -> dict[str, Any]:
    """The targets (instance label) of the chosen jobs that publish `metric`."""
    matchers = 'job=~"$job"' + (f", {extra}" if extra else "")
    return grafana.query_variable(
        "instance", "Instance", f"label_values({metric}{{{matchers}}}, instance)"
    )


def panel_kw(
    thresholds: dict[str, Any], bounds: Sequence[Bound] = (), runbooks: Sequence[str] = ()
) -> dict[str, Any]:
    """`steps` and `links` for alerts with thresholds (`bounds`) and alerts without."""
    kw = alerting(thresholds, *bounds)
    kw["links"] += runbook_links(thresholds, *(Bound(name) for name in runbooks))
    return kw


def series(
    thresholds: dict[str, Any],
    title: str,
    queries: Sequence[tuple[str, str]],
    description: str,
    unit: str = "short",
    bounds: Sequence[Bound] = (),
    runbooks: Sequence[str] = (),
    width: int = 8,
    selector: str = SELECTOR,
) -> grafana.Panel:
    """A time series of (query template, legend) pairs, coloured by the alerts in `bounds`."""
    return grafana.timeseries(
        title,
        grafana.targets(*((q(expr, selector), legend) for expr, legend in queries)),
        description,
        unit=unit,
        width=width,
        **panel_kw(thresholds, bounds, runbooks),
    )


def single(
    thresholds: dict[str, Any],
    title: str,
    expr: str,
    description: str,
    unit: str = "short",
    bounds: Sequence[Bound] = (),
    runbooks: Sequence[str] = (),
    mappings: Sequence[dict[str, Any]] = (),
    selector: str = SELECTOR,
    legend: str = "{{instance}}",
) -> grafana.Panel:
    """A stat panel of one query."""
    return grafana.stat(
        title,
        [grafana.target(q(expr, selector), legend)],
        description,
        unit=unit,
        mappings=mappings,
        **panel_kw(thresholds, bounds, runbooks),
    )
