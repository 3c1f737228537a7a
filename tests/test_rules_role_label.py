"""The shipped rules with --append-instance-role-label on: same alerts, no evaluation error.

Each Redis and cachescope alert case of tests/rules/cases.yml is run again through
promtool with `instance_role="master"` on every input series (as a target with the
label on exposes them): the alert must fire and stay quiet exactly as without it, and
carry the role. Then with every series doubled into a master and a slave copy, as in
the range windows after a failover (the old role's series are still within [5m]): a
one-to-one join `on (job, instance)` would then find two series per side and fail
the whole rule group, which promtool reports as an evaluation error.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import test_rules
import yaml
from test_rules import CASES, RULE_FILES, promtool

pytestmark = pytest.mark.live

ROLE = {"instance_role": "master"}
# CachescopeExporterDown reads Prometheus' own `up`, which no exporter labels.
CHOSEN = [
    i
    for i, case in enumerate(CASES)
    if case["alert"].startswith(("Redis", "Cachescope"))
    and case["alert"] != "CachescopeExporterDown"
]


def _with_role(case: dict[str, Any]) -> dict[str, Any]:
    """The case's promtool file with the role label on every series and every alert."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(test_rules, "IDENTITY", {**test_rules.IDENTITY, **ROLE})
        return test_rules._test_file(case)


def _doubled(case: dict[str, Any]) -> dict[str, Any]:
    """Every series as master and as slave at once; rules evaluated up to the firing time."""
    test = _with_role(case)
    group = test["tests"][0]
    doubled = []
    for series in group["input_series"]:
        doubled.append(series)
        slave = series["series"].replace('instance_role="master"', 'instance_role="slave"')
        doubled.append({**series, "series": slave})
    last = group["alert_rule_test"][-1]["eval_time"]
    probe = {"expr": "vector(1)", "eval_time": last, "exp_samples": [{"labels": "{}", "value": 1}]}
    group = {"interval": "1m", "input_series": doubled, "promql_expr_test": [probe]}
    return {**test, "tests": [group]}


def _run_all(directory: Path, files: list[dict[str, Any]]) -> list[str]:
    paths = []
    for index, content in zip(CHOSEN, files, strict=True):
        path = directory / f"{index:02d}.test.yml"
        path.write_text(yaml.safe_dump(content, sort_keys=False))
        paths.append(str(path))

    def run(path: str) -> str:
        result = promtool("test", "rules", path)
        return f"exit {result.returncode}\n{result.stdout}{result.stderr}"

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(run, paths))


@pytest.fixture(scope="module")
def role_results(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return _run_all(tmp_path_factory.mktemp("role"), [_with_role(CASES[i]) for i in CHOSEN])


@pytest.fixture(scope="module")
def failover_results(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    return _run_all(tmp_path_factory.mktemp("failover"), [_doubled(CASES[i]) for i in CHOSEN])


IDS = [f"{CASES[i]['alert']}-{i}" for i in CHOSEN]


def test_the_cases_include_joins_on_instance() -> None:
    """Not vacuous: the rules join and aggregate on label sets the role label widens."""
    text = "".join(path.read_text() for path in RULE_FILES)
    assert "on (job, instance)" in text and "ignoring (err)" in text and "without (db)" in text
    assert len(CHOSEN) > 40


@pytest.mark.parametrize("position", range(len(CHOSEN)), ids=IDS)
def test_alert_fires_and_keeps_the_role_label(position: int, role_results: list[str]) -> None:
    report = role_results[position]
    assert report.startswith("exit 0\n") and "SUCCESS" in report, report


@pytest.mark.parametrize("position", range(len(CHOSEN)), ids=IDS)
def test_rules_evaluate_without_error_across_a_failover(
    position: int, failover_results: list[str]
) -> None:
    report = failover_results[position]
    assert report.startswith("exit 0\n") and "SUCCESS" in report, report
