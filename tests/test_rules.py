"""The rules pack: promtool checks, a promtool unit test per alert, drift, runbooks, thresholds.

Each alert case in tests/rules/cases.yml becomes a `promtool test rules` file run against
the committed rule files: it fires at its threshold once its `for` has passed, not before,
stays silent just on the safe side and when an input is missing, and renders its labels and
annotations (value included) as expected.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from cachescope import alerts as registry
from cachescope.alerts.model import CATEGORIES, RUNBOOKS
from cachescope.cli import main
from cachescope.config.yamlmarks import ConfigError
from cachescope.rules import docs, render, thresholds
from cachescope.rules.model import duration_seconds
from cachescope.rules.render import render_documents
from click.testing import CliRunner
from servers import ROOT, require_binary

RULES = ROOT / "rules"
RULE_FILES = sorted(RULES.glob("*.rules.yml"))
OPERATOR_FILE = RULES / "kubernetes" / render.OPERATOR_FILE
CASES: list[dict[str, Any]] = yaml.safe_load((ROOT / "tests/rules/cases.yml").read_text())
RUNBOOKS_FILE = ROOT / "docs/runbooks.md"
IDENTITY = {"job": "cachescope", "instance": "cache-a"}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_binary("promtool"), *args], capture_output=True, text=True, timeout=60
    )


def rendered_alerts() -> dict[tuple[str, str], dict[str, Any]]:
    """(alert name, severity) -> the rule as committed."""
    found = {}
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    found[(rule["alert"], rule["labels"]["severity"])] = rule
    return found


ALERTS = rendered_alerts()


def test_promtool_checks_every_rule_file(tmp_path: Path) -> None:
    operator = yaml.safe_load(OPERATOR_FILE.read_text())
    assert operator["kind"] == "PrometheusRule"
    spec_file = tmp_path / "operator.rules.yml"
    spec_file.write_text(yaml.safe_dump({"groups": operator["spec"]["groups"]}))
    paths = [*map(str, RULE_FILES), str(spec_file)]
    result = promtool("check", "rules", *paths)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(paths)


@pytest.mark.parametrize(
    "output_format, name",
    [("prometheus", name) for name in render.FILES] + [("prometheus-operator", None)],
)
def test_committed_rules_match_a_fresh_render(output_format: str, name: str | None) -> None:
    documents = render_documents(thresholds.load(), output_format)
    if name is None:
        assert OPERATOR_FILE.read_text() == documents[render.OPERATOR_FILE], (
            "rules/kubernetes is stale: run `cachescope rules render --format"
            " prometheus-operator --output rules/kubernetes`"
        )
    else:
        assert (RULES / name).read_text() == documents[name], (
            "rules/ is stale: run `cachescope rules render --output rules`"
        )


def test_every_alert_and_level_has_a_case() -> None:
    covered = {
        (case["alert"], severity)
        for case in CASES
        for severity in case.get("fires") or _levels(case["alert"])
    }
    assert set(ALERTS) - covered == set()
    assert len(ALERTS) >= 55


def test_readme_counts_the_alerts() -> None:
    names = {name for name, _ in ALERTS}
    doubled = {name for name in names if len(_levels(name)) > 1}
    words = {2: "two", 3: "three", 4: "four", 5: "five"}
    text = " ".join((ROOT / "README.md").read_text().split())
    assert f"The pack has {len(names)} alerts, {words[len(doubled)]} of them at two" in text
    assert all(f"[{name}](docs/runbooks.md#{name.lower()})" in text for name in names)


def test_committed_docs_match_a_fresh_render() -> None:
    assert RUNBOOKS_FILE.read_text() == docs.runbooks_page(), (
        "docs/runbooks.md is stale: run `cachescope rules docs`"
    )
    readme = (ROOT / "README.md").read_text()
    assert readme == docs.readme(readme, thresholds.load()), (
        "README.md's alert blocks are stale: run `cachescope rules docs`"
    )


def test_every_alert_is_defined_once_with_all_its_parts() -> None:
    """Registry, thresholds, promtool cases and runbooks name the same alerts, each complete."""
    names = [alert.name for alert in registry.ALL]
    assert len(names) == len(set(names)), "an alert is defined twice"
    assert set(names) == set(thresholds.load()["alerts"]), "registry and thresholds differ"
    assert set(names) == {case["alert"] for case in CASES}, "registry and tests/rules differ"
    for case in CASES:  # a firing case and a quiet case each
        assert case["fire"] and case["quiet"], case["alert"]
    files = {path.stem for path in RUNBOOKS.glob("*.md")} - {"intro"}
    assert files == set(names), "runbooks/*.md without an alert, or an alert without one"
    for alert in registry.ALL:
        assert alert.category in CATEGORIES, alert.name
        assert alert.action and "\n" not in alert.action and not alert.action.endswith("."), (
            alert.name
        )
        assert (alert.check is None) != (not alert.unjudged), (
            f"{alert.name} needs an analyze check or the reason it has none, not both"
        )
        for part in ("**What it means**", "**Confirm**", "**What to do**"):
            assert part in alert.runbook(), f"{alert.name}.md lacks {part}"


def test_docs_command_rewrites_only_the_marked_blocks(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    stale = (ROOT / "README.md").read_text().replace("| RedisDown", "| RedisGone", 1)
    readme.write_text(stale.replace("The pack has", "The pack had", 1))
    runbooks, audit = tmp_path / "runbooks.md", tmp_path / "audit.md"
    args = ["rules", "docs", "--runbooks", str(runbooks), "--audit", str(audit)]
    args += ["--readme", str(readme)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert readme.read_text() == (ROOT / "README.md").read_text()
    assert runbooks.read_text() == RUNBOOKS_FILE.read_text()
    assert audit.read_text() == (ROOT / "docs/audit.md").read_text()
    readme.write_text("# no markers here\n")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert f"error: {readme} lacks the lines '<!-- alerts:begin" in result.output
    assert readme.read_text() == "# no markers here\n"


def test_every_alert_is_a_small_document() -> None:
    for (name, severity), rule in ALERTS.items():
        assert re.fullmatch(r"(Redis|Memcached|Cachescope)([A-Z][a-z0-9]*)+", name), name
        assert severity in ("critical", "warning", "info")
        notes = rule["annotations"]
        assert notes["summary"].endswith(".") and "\n" not in notes["summary"], name
        assert "{{ $labels.instance }}" in notes["description"], name
        assert notes["runbook_url"].endswith("/docs/runbooks.md#" + name.lower()), name


def test_every_alert_has_a_runbook_section() -> None:
    runbooks = RUNBOOKS_FILE.read_text()
    headings = set(re.findall(r"^## (\w+)$", runbooks, re.M))
    assert {name for name, _ in ALERTS} - headings == set()
    assert headings - {name for name, _ in ALERTS} == set(), "runbook sections without alert"
    for section in re.split(r"^## ", runbooks, flags=re.M)[1:]:
        for part in ("**What it means**", "**Confirm**", "**What to do**"):
            assert part in section, f"{section.split()[0]} lacks {part}"


def _leaves(data: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(data, dict):
        return [leaf for key, value in data.items() for leaf in _leaves(value, path + (key,))]
    return [path]


def _mutated(value: Any, key: str) -> Any:
    if key == "severity":
        return "info" if value != "info" else "warning"
    if isinstance(value, int | float):
        return value * 2 + 1
    if key in ("for", "window", "warmup", "lookback", "within") or re.fullmatch(
        r"\d+[smhd]", value
    ):
        return f"{duration_seconds(value) + 7}s"
    return value + "x"


def test_every_threshold_changes_the_rendered_rules() -> None:
    defaults = thresholds.load()
    baseline = render.prometheus_rule(defaults)  # every group, plus the object's metadata
    leaves = _leaves(defaults)
    assert len(leaves) > 150
    for leaf in leaves:
        changed = copy.deepcopy(defaults)
        parent = changed
        for key in leaf[:-1]:
            parent = parent[key]
        parent[leaf[-1]] = _mutated(parent[leaf[-1]], leaf[-1])
        assert render.prometheus_rule(changed) != baseline, (
            f"{'.'.join(leaf)} in rules/thresholds.yml is not used"
        )


def test_every_threshold_has_a_comment() -> None:
    lines = (RULES / "thresholds.yml").read_text().splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^  [A-Z]\w+:$", line):
            assert lines[number + 1].strip().startswith("#"), f"{line.strip()} has no comment"


@pytest.mark.parametrize(
    "text, where, message",
    [
        (
            "alerts:\n  RedisHitRatioLow:\n    threshold: high\n",
            ":3: alerts.RedisHitRatioLow.threshold:",
            "must be a finite number, not 'high'",
        ),
        (
            "alerts:\n  RedisDown:\n    for: soon\n",
            ":3: alerts.RedisDown.for:",
            "must be a duration such as 30s, 5m, 1h or 1d, not 'soon'",
        ),
        (
            "alerts:\n  RedisDown:\n    severity: page\n",
            ":3: alerts.RedisDown.severity:",
            "must be one of",
        ),
        (
            "alerts:\n  RedisHitRatioLow:\n    threshold: 95\n",
            ":3: alerts.RedisHitRatioLow.threshold:",
            "must be a ratio between 0 and 1 (0.8 = 80%), not 95",
        ),
        (
            "alerts:\n  RedisMemoryNearLimit:\n    critical: {threshold: 1.5}\n",
            ":3: alerts.RedisMemoryNearLimit.critical.threshold:",
            "must be a ratio between 0 and 1",
        ),
        (
            "alerts:\n  RedisEvictionsHigh:\n    max_hit_ratio: -0.1\n",
            ":3: alerts.RedisEvictionsHigh.max_hit_ratio:",
            "must be a ratio between 0 and 1",
        ),
        (
            "alerts:\n  RedisKeysWithoutTtl:\n    min_keys: -1\n",
            ":3: alerts.RedisKeysWithoutTtl.min_keys:",
            "must be a number from 0 up, not -1",
        ),
        (
            "alerts:\n  RedisMissSpike:\n    factor: 0.5\n",
            ":3: alerts.RedisMissSpike.factor:",
            "must be a number above 1 (3 = three times the usual), not 0.5",
        ),
        (
            "alerts:\n  RedisRestarted:\n    window: 0s\n",
            ":3: alerts.RedisRestarted.window:",
            "must be a duration between 1s and 30d, not 0s",
        ),
        (  # inverted levels: the critical page would come before the warning
            "alerts:\n  RedisMemoryNearLimit:\n    warning: {threshold: 0.95}\n",
            ":3: alerts.RedisMemoryNearLimit.warning.threshold:",
            "the warning threshold (0.95) must be below the critical one (0.9)",
        ),
        (
            "alerts:\n  RedisFragmentationHigh:\n    threshold: .nan\n",
            ":3: alerts.RedisFragmentationHigh.threshold:",
            "must be a finite number",
        ),
        (
            "alerts:\n  RedisHitRatioLw:\n    threshold: 0.9\n",
            ":2: alerts.RedisHitRatioLw:",
            "unknown alert 'RedisHitRatioLw' (did you mean 'RedisHitRatioLow'?); the alerts are:"
            " CachescopeConfigFinding,",
        ),
        (
            "alerts:\n  RedisDown:\n    fro: 1m\n",
            ":3: alerts.RedisDown.fro:",
            "unknown field 'fro' (did you mean 'for'?); the fields are: enabled, for, severity",
        ),
        ("selector: ''\n", ":1: selector:", "non-empty string"),
        ("alerts:\n  RedisDown: [1]\n", ":2: alerts.RedisDown:", "must be a mapping"),
        ("alerts: {RedisDown: {for: 1m}\n", ":1:9", "not closed"),
    ],
)
def test_bad_thresholds_name_file_line_and_field(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = tmp_path / "mine.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        thresholds.load(path)
    assert str(caught.value).startswith(str(path) + where), str(caught.value)
    assert message in str(caught.value)
    result = CliRunner().invoke(main, ["rules", "render", "--thresholds", str(path)])
    assert result.exit_code == 1
    assert f"error: {path}{where}" in result.output


def test_unknown_alert_message_names_every_alert(tmp_path: Path) -> None:
    path = tmp_path / "mine.yml"
    path.write_text("alerts:\n  Xyzzy: {for: 1m}\n")
    with pytest.raises(ConfigError) as caught:
        thresholds.load(path)
    assert "did you mean" not in str(caught.value)
    assert all(name in str(caught.value) for name in render.alerts())


def test_thresholds_cite_only_files_inside_the_repository() -> None:
    text = (RULES / "thresholds.yml").read_text()
    # Any markdown file it names (a URL aside), by a relative path inside the repository.
    for cited in re.findall(r"[\w./-]*[\w-]\.md\b", re.sub(r"https?://\S+", "", text)):
        assert not cited.startswith("/") and (ROOT / cited).is_file(), cited
    for cited in re.findall(r"\b(?:docs|rules|tests)/[\w./-]+\w", text):
        assert (ROOT / cited).exists(), cited


def test_override_changes_only_what_it_names(tmp_path: Path) -> None:
    path = tmp_path / "mine.yml"
    path.write_text(
        "selector: 'job=\"cache\"'\n"
        "alerts:\n"
        "  RedisHitRatioLow: {threshold: 0.95}\n"
        "  RedisDown: {enabled: false}\n"
        "  RedisMemoryNearLimit: {critical: {for: 30s}}\n"
    )
    result = CliRunner().invoke(main, ["rules", "render", "--thresholds", str(path)])
    assert result.exit_code == 0, result.output
    groups = yaml.safe_load(result.output)["groups"]
    rules = {
        (rule.get("alert"), rule.get("labels", {}).get("severity")): rule
        for group in groups
        for rule in group["rules"]
    }
    assert ("RedisDown", "critical") not in rules
    hit_ratio = rules[("RedisHitRatioLow", "warning")]
    assert "< 0.95" in hit_ratio["expr"] and 'job="cache"' in hit_ratio["expr"]
    assert "(threshold 95%)" in hit_ratio["annotations"]["description"]
    assert rules[("RedisMemoryNearLimit", "critical")]["for"] == "30s"
    assert rules[("RedisMemoryNearLimit", "warning")]["for"] == "10m"


def test_cli_writes_rule_files_that_promtool_accepts(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["rules", "render", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(render.FILES)
    check = promtool("check", "rules", *map(str, sorted(tmp_path.iterdir())))
    assert check.returncode == 0, check.stdout + check.stderr


# --- promtool unit tests, one file per case ------------------------------------------------


def _levels(alert: str) -> list[str]:
    return [severity for name, severity in ALERTS if name == alert]


def _series(spec: dict[str, str | None]) -> list[dict[str, str]]:
    labels = ",".join(f'{k}="{v}"' for k, v in IDENTITY.items())
    return [
        {
            "series": name.replace("{A}", "{" + labels + "}").replace("{A,", "{" + labels + ","),
            "values": values,
        }
        for name, values in spec.items()
        if values is not None
    ]


def _expected(case: dict[str, Any], severity: str, value: str) -> dict[str, Any]:
    """The labels and annotations Prometheus must render, Go templates filled in by hand."""
    labels = {**IDENTITY, **case.get("labels", {}), "severity": severity}
    notes = dict(ALERTS[(case["alert"], severity)]["annotations"])

    def fill(text: str) -> str:
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)
        return re.sub(r"\{\{ \$value(?: \| [^}]+)? \}\}", value, text)

    return {"exp_labels": labels, "exp_annotations": {k: fill(v) for k, v in notes.items()}}


def _minutes(text: str) -> int:
    return duration_seconds(text) // 60


def _test_file(case: dict[str, Any]) -> dict[str, Any]:
    name = case["alert"]
    fires = case.get("fires") or _levels(name)
    fors = [_minutes(ALERTS[(name, s)].get("for", "0s")) for s in fires]
    start = _minutes(case.get("start", "0m"))
    at = _minutes(case["at"]) if "at" in case else start + max(fors) + 10
    value = str(case.get("value", ""))

    def group(
        series: dict[str, Any], checks: list[tuple[int, list[dict[str, Any]]]]
    ) -> dict[str, Any]:
        return {
            "interval": "1m",
            "input_series": _series(series),
            "alert_rule_test": [
                {"eval_time": f"{t}m", "alertname": name, "exp_alerts": alerts}
                for t, alerts in checks
            ],
        }

    firing = [(at, [_expected(case, s, value) for s in fires])]
    if min(fors) >= 2:  # still pending a minute before its `for` has passed
        firing.insert(0, (start + min(fors) - 1, []))
    quiet_value = str(case.get("quiet_value", ""))
    quiet = [_expected(case, s, quiet_value) for s in case.get("quiet_fires", [])]
    missing = case.get("missing") or [next(iter(case["fire"]))]
    groups = [
        group(case["fire"], firing),
        group({**case["fire"], **case["quiet"]}, [(at, quiet)]),
        group({k: v for k, v in case["fire"].items() if k not in missing}, [(at, [])]),
    ]
    groups += [
        group({**case["fire"], **changes}, [(at, [])])
        for changes in case.get("also_quiet", {}).values()
    ]
    return {
        "rule_files": [str(path) for path in RULE_FILES],
        "evaluation_interval": "1m",
        "tests": groups,
    }


@pytest.fixture(scope="module")
def promtool_results(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """`promtool test rules` of every case's file, run side by side; the output of each."""
    directory = tmp_path_factory.mktemp("rule-tests")
    paths = []
    for index, case in enumerate(CASES):
        path = directory / f"{index:02d}-{case['alert']}.test.yml"
        path.write_text(yaml.safe_dump(_test_file(case), sort_keys=False))
        paths.append(str(path))

    def run(path: str) -> str:
        result = promtool("test", "rules", path)
        return f"exit {result.returncode}\n{result.stdout}{result.stderr}"

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return list(pool.map(run, paths))


@pytest.mark.parametrize(
    "index",
    range(len(CASES)),
    ids=[f"{c['alert']}-{'+'.join(c.get('fires', ['only']))}" for c in CASES],
)
def test_alert_fires_at_threshold_and_only_then(
    index: int, promtool_results: dict[str, str]
) -> None:
    report = promtool_results[index]
    assert report.startswith("exit 0\n") and "SUCCESS" in report, report
