"""Small builders for Grafana dashboard JSON: targets, panels, variables, layout.

Plain dicts rather than a dashboards-as-code library: the JSON model is stable, a
reviewer reads the output directly, and the package keeps no extra dependency.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

# Grafana 11's dashboard schema; newer versions migrate it on load.
SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
TAGS = ["cachescope"]
Panel = dict[str, Any]


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    """One PromQL query of a panel."""
    query: dict[str, Any] = {
        "datasource": DATASOURCE,
        "expr": expr,
        "refId": ref,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
    }
    if instant:
        query["format"] = "table"
    return query


def targets(*queries: tuple[str, str]) -> list[dict[str, Any]]:
    """(expr, legend) pairs as range queries with refIds A, B, C, ..."""
    return [target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(queries)]


def field_config(
    unit: str = "short",
    steps: dict[str, Any] | None = None,
    links: Sequence[dict[str, Any]] = (),
    note: str = "",
    **custom: Any,
) -> dict[str, Any]:
    """fieldConfig with a unit, optional alert thresholds and their runbook links."""
    defaults: dict[str, Any] = {"unit": unit, "custom": dict(custom)}
    if note:
        defaults["description"] = note
    if steps is not None:
        defaults["thresholds"] = steps
        defaults["color"] = {"mode": "thresholds"}
    if links:
        defaults["links"] = list(links)
    return {"defaults": defaults, "overrides": []}


def timeseries(
    title: str,
    queries: list[dict[str, Any]],
    description: str,
    unit: str = "short",
    steps: dict[str, Any] | None = None,
    links: Sequence[dict[str, Any]] = (),
    width: int = 8,
    stack: bool = False,
    note: str = "",
) -> Panel:
    """A time series panel; with thresholds, they are drawn as dashed lines."""
    custom: dict[str, Any] = {"fillOpacity": 10, "showPoints": "never", "spanNulls": False}
    if steps is not None:
        custom["thresholdsStyle"] = {"mode": "dashed"}
    if stack:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    config = field_config(unit, steps, links, note, **custom)
    if steps is not None:
        # Lines keep per-series colours; only the threshold lines use the steps.
        config["defaults"]["color"] = {"mode": "palette-classic"}
    panel = _panel("timeseries", title, queries, description, width, 8, config)
    panel["options"] = {
        "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel


def stat(
    title: str,
    queries: list[dict[str, Any]],
    description: str,
    unit: str = "short",
    steps: dict[str, Any] | None = None,
    links: Sequence[dict[str, Any]] = (),
    width: int = 4,
    mappings: Sequence[dict[str, Any]] = (),
    note: str = "",
) -> Panel:
    """A single-value panel coloured by its thresholds (green when it has none)."""
    config = field_config(unit, steps if steps is not None else plain_steps(), links, note)
    config["defaults"]["color"] = {"mode": "thresholds"}
    if mappings:
        config["defaults"]["mappings"] = list(mappings)
    panel = _panel("stat", title, queries, description, width, 4, config)
    panel["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background",
        "graphMode": "area",
        "textMode": "auto",
    }
    return panel


def table(
    title: str,
    queries: list[dict[str, Any]],
    description: str,
    columns: Sequence[dict[str, Any]],
    sort_by: str,
    hide: Sequence[str] = (),
    width: int = 24,
    height: int = 10,
) -> Panel:
    """Instant queries merged into one row per series; `columns` are field overrides."""
    config = field_config("short")
    config["overrides"] = list(columns)
    panel = _panel("table", title, queries, description, width, height, config)
    panel["options"] = {
        "showHeader": True,
        "sortBy": [{"displayName": sort_by, "desc": True}],
        "cellHeight": "sm",
    }
    panel["transformations"] = [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {"excludeByName": {"Time": True, **{name: True for name in hide}}},
        },
    ]
    return panel


def column(
    name: str,
    title: str,
    unit: str = "short",
    steps: dict[str, Any] | None = None,
    links: Sequence[dict[str, Any]] = (),
    note: str = "",
    mappings: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A table column override: rename `name` (e.g. 'Value #B'), unit, alert colouring."""
    props: list[dict[str, Any]] = [
        {"id": "displayName", "value": title},
        {"id": "unit", "value": unit},
    ]
    if note:
        props.append({"id": "description", "value": note})
    if steps is not None:
        props += [
            {"id": "thresholds", "value": steps},
            {"id": "color", "value": {"mode": "thresholds"}},
            {"id": "custom.cellOptions", "value": {"type": "color-background"}},
        ]
    if mappings:
        props += [
            {"id": "mappings", "value": list(mappings)},
            {"id": "custom.cellOptions", "value": {"type": "color-background"}},
        ]
    if links:
        props.append({"id": "links", "value": list(links)})
    return {"matcher": {"id": "byName", "options": name}, "properties": props}


def plain_steps() -> dict[str, Any]:
    """Thresholds with no alert behind them: always green."""
    return {"mode": "absolute", "steps": [{"color": "green", "value": None}]}


def _panel(
    kind: str,
    title: str,
    queries: list[dict[str, Any]],
    description: str,
    width: int,
    height: int,
    config: dict[str, Any],
) -> Panel:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": queries,
        "fieldConfig": config,
        "gridPos": {"h": height, "w": width, "x": 0, "y": 0},
    }


def row(title: str) -> Panel:
    """A full-width section header."""
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "gridPos": {}}


def layout(panels: Iterable[Panel]) -> list[Panel]:
    """Flow panels left to right into the 24-column grid and number them from 1."""
    placed: list[Panel] = []
    x = y = line_height = 0
    for number, panel in enumerate(panels, start=1):
        panel = dict(panel, id=number)
        if panel["type"] == "row":
            y += line_height
            panel["gridPos"] = {"h": 1, "w": 24, "x": 0, "y": y}
            x, y, line_height = 0, y + 1, 0
        else:
            size = panel["gridPos"]
            if x + size["w"] > 24:
                x, y, line_height = 0, y + line_height, 0
            panel["gridPos"] = {"h": size["h"], "w": size["w"], "x": x, "y": y}
            x += size["w"]
            line_height = max(line_height, size["h"])
        placed.append(panel)
    return placed


def datasource_variable() -> dict[str, Any]:
    """The Prometheus data source every panel uses."""
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
        "options": [],
    }


def query_variable(name: str, label: str, query: str, multi: bool = True) -> dict[str, Any]:
    """A variable from `label_values(...)`; multi-valued ones offer All (matching .+)."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": query,  # the classic string form, which every Grafana version reads
        "current": {},
        "hide": 0,
        "refresh": 2,  # on time range change: targets come and go
        "regex": "",
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        **({"allValue": ".+"} if multi else {}),
        "options": [],
    }


def dashboard_links() -> list[dict[str, Any]]:
    """Links to every cachescope dashboard, carrying the time range and variables."""
    return [
        {
            "title": "cachescope",
            "type": "dashboards",
            "tags": TAGS,
            "asDropdown": True,
            "includeVars": True,
            "keepTime": True,
            "targetBlank": False,
            "icon": "external link",
            "tooltip": "",
            "url": "",
        }
    ]


def dashboard(
    uid: str, title: str, description: str, variables: list[dict[str, Any]], panels: list[Panel]
) -> dict[str, Any]:
    """A whole dashboard, ready to import or provision."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "time": {"from": "now-3h", "to": "now"},
        "timezone": "",
        "refresh": "30s",
        "links": dashboard_links(),
        "annotations": {"list": []},
        "templating": {"list": [datasource_variable(), *variables]},
        "panels": layout(panels),
    }
