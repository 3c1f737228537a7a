"""The dashboards: committed render, Grafana structure, lint, thresholds equal to the alerts'."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cachescope.cli import main
from cachescope.dashboards.bounds import DRAWN_PREFIX, LINK_PREFIX
from cachescope.dashboards.render import CONFIGMAP_FILE, DASHBOARDS, build, render
from cachescope.rules import thresholds
from cachescope.rules.model import duration_seconds
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
JSON_DIR = ROOT / "grafana" / "dashboards"
CONFIGMAP = ROOT / "deploy" / "kubernetes" / CONFIGMAP_FILE
# Alerts with a numeric threshold that no panel can draw: `> 0` (Grafana colours from a
# step upwards, so a step at 0 would colour 0 itself). Their panels carry runbook links.
UNDRAWABLE = {"RedisEvictionsHigh", "MemcachedEvictionsHigh"}
# Fixed windows allowed instead of $__rate_interval: the alert's own window, so the
# panel shows the number the alert compares.
ALERT_WINDOWS = {"1h": "RedisFullResyncs", "10m": "RedisSlowlogGrowing"}
SELECTOR = re.compile(r"\{([^{}]*)\}")
WINDOW = re.compile(r"\[([^\]]+)\]")
VARIABLE_MATCHER = re.compile(r'(\w+)=~"\$(\w+)"')


@pytest.fixture(scope="module")
def defaults() -> dict[str, Any]:
    return thresholds.load()


@pytest.fixture(scope="module")
def dashboards(defaults: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return build(defaults)


RENDER = "cachescope dashboards render --output grafana/dashboards --configmap deploy/kubernetes"


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from (panel for panel in dashboard["panels"] if panel["type"] != "row")


def scopes(panel: dict[str, Any]) -> Iterator[tuple[dict[str, Any] | None, list[str], list[str]]]:
    """(thresholds, alerts drawn, alerts linked) for the panel defaults and each override."""
    defaults = panel["fieldConfig"]["defaults"]
    yield (
        defaults.get("thresholds"),
        drawn_alerts(defaults.get("description", "")),
        alerts_of(defaults.get("links", [])),
    )
    for override in panel["fieldConfig"]["overrides"]:
        props = {prop["id"]: prop["value"] for prop in override["properties"]}
        yield (
            props.get("thresholds"),
            drawn_alerts(props.get("description", "")),
            alerts_of(props.get("links", [])),
        )


def drawn_alerts(description: str) -> list[str]:
    if not description.startswith(DRAWN_PREFIX):
        return []
    return description[len(DRAWN_PREFIX) :].rstrip(".").split(", ")


def alerts_of(links: list[dict[str, Any]]) -> list[str]:
    return [
        link["title"][len(LINK_PREFIX) :] for link in links if link["title"].startswith(LINK_PREFIX)
    ]


def step_values(steps: dict[str, Any] | None) -> set[float]:
    return {
        step["value"] for step in (steps or {"steps": []})["steps"] if step["value"] is not None
    }


def alert_numbers(entry: dict[str, Any], key: str | None = None) -> set[float]:
    """Every number (durations in seconds) an alert's thresholds entry holds, per level."""
    found: set[float] = set()
    for name, value in entry.items():
        if isinstance(value, dict):
            found |= alert_numbers(value, key)
        elif key not in (None, name) or name in ("severity", "enabled", "for"):
            continue
        elif isinstance(value, int | float) and not isinstance(value, bool):
            found.add(float(value))
        elif isinstance(value, str):
            found.add(float(duration_seconds(value)))
    return found


def test_committed_dashboards_and_configmap_are_the_render_of_the_defaults(
    defaults: dict[str, Any],
) -> None:
    files, configmap = render(defaults)
    committed = {path.name for path in JSON_DIR.glob("*.json")}
    assert committed == set(files), f"run `{RENDER}`"
    for name, text in files.items():
        assert (JSON_DIR / name).read_text() == text, f"{name} drifted: run `{RENDER}`"
    assert CONFIGMAP.read_text() == configmap, f"the ConfigMap drifted: run `{RENDER}`"


def test_configmap_carries_every_dashboard_with_the_sidecar_label() -> None:
    document = yaml.safe_load(CONFIGMAP.read_text())
    assert document["kind"] == "ConfigMap"
    assert document["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert set(document["data"]) == set(DASHBOARDS)
    for name, text in document["data"].items():
        assert json.loads(text) == json.loads((JSON_DIR / name).read_text())
    kustomization = yaml.safe_load((CONFIGMAP.parent / "kustomization.yaml").read_text())
    assert CONFIGMAP_FILE in kustomization["resources"]
    assert len(CONFIGMAP.read_bytes()) < 256 * 1024, "kubectl apply keeps a copy: stay < 256 KiB"


def test_provisioning_points_at_the_mounted_dashboards_and_compose_prometheus() -> None:
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/cachescope.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    source = yaml.safe_load((ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "./grafana/dashboards:/var/lib/grafana/dashboards" in compose


def test_cli_renders_the_committed_files(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["dashboards", "render", "--output", str(tmp_path), "--configmap", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    for name in DASHBOARDS:
        assert (tmp_path / name).read_text() == (JSON_DIR / name).read_text()
    assert (tmp_path / CONFIGMAP_FILE).read_text() == CONFIGMAP.read_text()


def test_every_dashboard_has_uid_title_variables_links_and_current_schema(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    uids = [dashboard["uid"] for dashboard in dashboards.values()]
    assert len(set(uids)) == len(uids)
    for dashboard in dashboards.values():
        assert dashboard["title"] and re.fullmatch(r"[a-z0-9-]{1,40}", dashboard["uid"])
        assert dashboard["schemaVersion"] >= 39  # Grafana 11
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        assert {"job", "instance"} <= set(variables)
        assert "cachescope" in dashboard["tags"]
        assert any(link["type"] == "dashboards" and link["tags"] == ["cachescope"]
                   for link in dashboard["links"])  # fmt: skip
    topology = dashboards["cachescope-redis-topology.json"]
    assert {"cluster", "master_set"} <= {v["name"] for v in topology["templating"]["list"]}


def test_panels_have_unique_ids_fit_the_grid_and_do_not_overlap(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    for name, dashboard in dashboards.items():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(set(ids)) == len(ids), name
        taken: set[tuple[int, int]] = set()
        for panel in dashboard["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0, (name, panel)
            cells = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"])
                     for y in range(pos["y"], pos["y"] + pos["h"])}  # fmt: skip
            assert not cells & taken, f"{name}: {panel['title']} overlaps another panel"
            taken |= cells


def test_every_panel_and_query_uses_the_datasource_variable(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    for dashboard in dashboards.values():
        for panel in panels(dashboard):
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert panel["targets"], panel["title"]
            assert panel["description"], panel["title"]
            for query in panel["targets"]:
                assert query["datasource"] == panel["datasource"]


def test_lint_every_selector_matches_job_and_a_target_variable_and_rates_use_rate_interval(
    dashboards: dict[str, dict[str, Any]],
) -> None:
    """The Grafana dashboard linter's rules: job/instance matchers, $__rate_interval."""
    for dashboard in dashboards.values():
        variables = {v["name"] for v in dashboard["templating"]["list"]}
        for panel in panels(dashboard):
            for query in panel["targets"]:
                expr, where = query["expr"], f"{dashboard['uid']}: {panel['title']}"
                for body in SELECTOR.findall(expr):
                    matchers = dict(VARIABLE_MATCHER.findall(body))
                    assert matchers.get("job") == "job", f"{where}: no job matcher in {{{body}}}"
                    target = set(matchers) & {"instance", "master_set", "cluster"}
                    assert target, f"{where}: no instance matcher in {{{body}}}"
                    assert set(matchers.values()) <= variables, where
                    assert 'instance="' not in body, f"{where}: hard-coded instance"
                for window in WINDOW.findall(expr):
                    assert window == "$__rate_interval" or window in ALERT_WINDOWS, (where, window)
                for rate in re.findall(r"\b(?:i?rate)\([^\[]*\[([^\]]+)\]", expr):
                    assert rate == "$__rate_interval", where


def test_every_threshold_step_is_a_value_of_the_alerts_it_names(
    dashboards: dict[str, dict[str, Any]], defaults: dict[str, Any]
) -> None:
    """No panel turns a colour at a number no alert uses, and each names its alerts."""
    for dashboard in dashboards.values():
        for panel in panels(dashboard):
            for steps, drawn_by, linked in scopes(panel):
                values = step_values(steps)
                assert bool(values) == bool(drawn_by), f"{panel['title']}: {values} {drawn_by}"
                if not values:
                    continue
                assert set(drawn_by) <= set(linked), f"{panel['title']}: no runbook link"
                allowed = set().union(*(alert_numbers(defaults["alerts"][a]) for a in drawn_by))
                assert values <= allowed, (panel["title"], values, drawn_by)
                for alert in drawn_by:
                    assert values & alert_numbers(defaults["alerts"][alert]), (
                        panel["title"],
                        alert,
                    )


def drawn(dashboards: dict[str, dict[str, Any]]) -> dict[str, set[float]]:
    """Alert -> the step values of every panel scope that links it."""
    found: dict[str, set[float]] = {}
    for dashboard in dashboards.values():
        for panel in panels(dashboard):
            for steps, drawn_by, _ in scopes(panel):
                for alert in drawn_by:
                    found.setdefault(alert, set()).update(step_values(steps))
    return found


def test_every_alert_threshold_is_drawn_on_some_panel(
    dashboards: dict[str, dict[str, Any]], defaults: dict[str, Any]
) -> None:
    found = drawn(dashboards)
    for name, entry in defaults["alerts"].items():
        wanted = alert_numbers(entry, "threshold")
        if not wanted or name in UNDRAWABLE:
            continue
        assert wanted <= found.get(name, set()), f"{name}: threshold {wanted} on no panel"


def test_changed_thresholds_change_the_panels(tmp_path: Path, defaults: dict[str, Any]) -> None:
    """Override every threshold with a new value: the rendered panels follow."""
    override: dict[str, Any] = {}
    for name, entry in defaults["alerts"].items():
        if name in UNDRAWABLE:
            continue
        if isinstance(entry.get("threshold"), int | float):
            override[name] = {"threshold": entry["threshold"] * 0.5 + 0.125}
        for level in ("warning", "critical"):
            if level in entry:
                override.setdefault(name, {})[level] = {
                    "threshold": entry[level]["threshold"] - 0.03
                }
    override["RedisRdbSaveTooOld"] = {"threshold": "12h"}
    override["RedisBlockedClientsHigh"] = {"enabled": False}
    path = tmp_path / "mine.yml"
    path.write_text(yaml.safe_dump({"alerts": override}))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "dashboards",
            "render",
            "--thresholds",
            str(path),
            "--output",
            str(out),
            "--configmap",
            "",
        ],
    )
    assert result.exit_code == 0, result.output
    changed = thresholds.load(path)
    rendered = {name: json.loads((out / name).read_text()) for name in DASHBOARDS}
    found = drawn(rendered)
    for name, entry in override.items():
        if entry.get("enabled") is False:
            assert name not in found, f"{name} is disabled but still drawn"
            continue
        wanted = alert_numbers(changed["alerts"][name], "threshold")
        assert wanted <= found[name], f"{name}: panels show {found[name]}, not {wanted}"
        old = alert_numbers(defaults["alerts"][name], "threshold") - wanted
        assert not old & found[name], f"{name}: panels still show the old {old}"
    hit_ratio = next(
        p for p in panels(rendered["cachescope-redis.json"]) if p["title"] == "Hit ratio"
    )
    assert step_values(hit_ratio["fieldConfig"]["defaults"]["thresholds"]) == {0.525}
