"""cachescope_config_finding: the configuration audit as series, from a background thread.

A real misconfigured redis-server behind a real `cachescope serve --audit.interval 1s`
shows its finding on /metrics and /scrape until the setting is fixed; with the audit off
there is neither series nor thread. The series come from stored audits, so a scrape does
no audit I/O, and an audit that fails says so without the target's password.
"""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import quote

import pytest
from cachescope.alerts import audits
from cachescope.cli import parse_audit_interval
from cachescope.config.loader import parse_config
from cachescope.config.records import TargetConfig
from cachescope.config.yamlmarks import ConfigError
from cachescope.dashboards import fleet
from cachescope.exposition.families import MetricSet, render
from cachescope.fleet import Fleet
from cachescope.rules import docs, thresholds
from cachescope.scrape.auditor import Audited, Auditor, Outcome, add_audited
from prometheus_client.parser import text_string_to_metric_families
from servers import Exporter, Exposition, RedisServer, StartExporter, StartRedis, wait_for
from test_secret_echo import leaks, setup  # noqa: F401 (setup: the fixture of two echoing fakes)

FINDING = "cachescope_config_finding"
AUDIT_PAGE = Path(__file__).resolve().parent.parent / "docs" / "audit.md"


def findings(exposition: Exposition, **labels: str) -> list[dict[str, str]]:
    """The label sets of the finding series matching `labels`."""
    return [
        have
        for name, have, value in exposition.samples
        if name == FINDING and value == 1 and all(have.get(k) == v for k, v in labels.items())
    ]


def unset_maxmemory(exporter: Exporter, instance: str) -> list[dict[str, str]]:
    return findings(exporter.metrics(), check="maxmemory-unset", instance=instance)


def test_misconfigured_redis_shows_its_finding_until_fixed(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    # Configured as the practice says but for maxmemory: one finding, and only that one.
    server = start_redis("--maxmemory", "0", "--latency-monitor-threshold", "100")
    exporter = start_exporter("--target", server.uri, "--audit.interval", "1s")
    instance = f"127.0.0.1:{server.port}"
    wait_for(lambda: unset_maxmemory(exporter, instance), what="the maxmemory-unset finding")
    metrics = exporter.metrics()
    assert findings(metrics, check="maxmemory-unset") == [
        {"instance": instance, "check": "maxmemory-unset", "severity": "medium"}
    ]
    assert metrics.types[FINDING] == "gauge"
    assert 0 <= metrics.value("cachescope_config_audit_age_seconds", instance=instance) < 60
    assert metrics.value("cachescope_config_audit_checks_not_run", instance=instance) == 0
    assert metrics.value("cachescope_config_audit_errors_total", instance=instance) == 0
    status, body = exporter.get("/scrape?target=" + quote(server.uri, safe=""))
    assert status == 200, body
    assert findings(Exposition(body)) == [{"check": "maxmemory-unset", "severity": "medium"}]

    server.client().config_set("maxmemory", "100mb")
    wait_for(lambda: not unset_maxmemory(exporter, instance), what="the finding to go")
    _, body = exporter.get("/scrape?target=" + quote(server.uri, safe=""))
    assert findings(Exposition(body), check="maxmemory-unset") == []


def test_with_the_role_label_the_audit_series_carry_the_role_once_audited(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis("--maxmemory", "0", "--latency-monitor-threshold", "100")
    exporter = start_exporter(
        "--target", server.uri, "--audit.interval", "1s", "--append-instance-role-label"
    )
    instance = f"127.0.0.1:{server.port}"
    wait_for(lambda: unset_maxmemory(exporter, instance), what="the maxmemory-unset finding")
    metrics = exporter.metrics()
    audit_series = [
        labels for name, labels, _ in metrics.samples if name.startswith("cachescope_config_")
    ]
    assert len(audit_series) >= 4  # the finding, its age, checks not run, errors
    assert {labels.get("instance_role") for labels in audit_series} == {"master"}


def test_audit_interval_zero_exports_no_finding(
    redis_server: RedisServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter("--target", redis_server.uri, env={"CACHESCOPE_AUDIT_INTERVAL": "0"})
    metrics = exporter.metrics()
    assert metrics.value("redis_up") == 1  # a scrape happened, with the default maxmemory 0
    assert not {name for name in metrics.names() if name.startswith("cachescope_config_")}


@pytest.mark.live  # the started thread tries the (closed) port at once
def test_audit_interval_zero_starts_no_thread_and_a_positive_one_does() -> None:
    config = parse_config("targets:\n  - uri: redis://127.0.0.1:1\n    name: nowhere\n")
    off = Fleet(config, audit_interval=0.0)
    assert off.auditor is None
    assert "config-audit" not in names()
    off.close()
    on = Fleet(config, audit_interval=3600.0)
    try:
        assert "config-audit" in names()
    finally:
        on.close()
    # Stopped, it ends after its audit of the closed port: before the next (unit) test.
    wait_for(lambda: "config-audit" not in names(), what="the auditor thread to end")


def names() -> set[str]:
    return {thread.name for thread in threading.enumerate()}


@pytest.mark.parametrize("text", ["0", "0s", "1s", "15m", "24h"])
def test_audit_interval_takes_zero_or_a_second_to_a_day(text: str) -> None:
    assert parse_audit_interval(text) in (0.0, 1.0, 900.0, 86_400.0)


@pytest.mark.parametrize("text", ["500ms", "25h", "-1s", "soon", ""])
def test_audit_interval_refuses_what_it_cannot_honour(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_audit_interval(text)
    assert "--audit.interval" in str(caught.value) and "0 (off)" in str(caught.value)


def target(name: str) -> TargetConfig:
    return parse_config(f"targets:\n  - uri: redis://127.0.0.1:1\n    name: {name}\n").targets[0]


def test_stored_findings_render_as_one_gauge_family_prometheus_parses() -> None:
    audited = Audited(
        target("cache-a"),
        seen=100.0,
        findings=(("maxmemory-unset", "medium"), ("volatile-policy-without-ttls", "high")),
        not_run=2,
        succeeded=130.0,
        attempted=130.0,
        errors=1,
    )
    metrics = MetricSet()
    add_audited(metrics, audited, (("instance", "cache-a"), ("team", "x")), now=142.5)
    parsed = {f.name: f for f in text_string_to_metric_families(render(metrics))}
    finding = parsed[FINDING]
    assert finding.type == "gauge"
    assert [(s.labels["check"], s.labels["severity"], s.value) for s in finding.samples] == [
        ("maxmemory-unset", "medium", 1.0),
        ("volatile-policy-without-ttls", "high", 1.0),
    ]
    assert all(s.labels["team"] == "x" for s in finding.samples)
    assert parsed["cachescope_config_audit_age_seconds"].samples[0].value == 12.5
    assert parsed["cachescope_config_audit_checks_not_run"].samples[0].value == 2
    assert parsed["cachescope_config_audit_errors"].samples[0].value == 1


def test_auditor_audits_each_target_once_per_interval_and_drops_removed_ones() -> None:
    """With a stand-in audit: the first one interval after a target is seen, one at a time."""
    fleet = [target("a"), target("b")]
    calls: list[str] = []
    done = threading.Event()

    def run(one: TargetConfig) -> Outcome:
        calls.append(one.name)
        if len(calls) >= 2:
            done.set()
        return Outcome((("maxmemory-unset", "medium"),) if one.name == "a" else ())

    auditor = Auditor(2.0, lambda: list(fleet), run)
    auditor.start()
    try:
        assert not done.wait(0.5) and calls == []  # not before one interval has passed
        assert done.wait(10)
        wait_for(lambda: auditor.results()["b"].succeeded is not None, what="b's result")
        assert sorted(calls) == ["a", "b"]  # each once: the next is due 2s later
        assert auditor.results()["a"].findings == (("maxmemory-unset", "medium"),)
        fleet.pop(0)
        wait_for(lambda: "a" not in auditor.results(), what="a dropped")
        metrics = MetricSet()
        auditor.add_metrics(metrics, target("a"), (("instance", "a"),))
        assert metrics.sample_count() == 0  # a removed target has no stale series
    finally:
        auditor.stop()


def test_a_failed_audit_is_counted_and_logged_without_the_password(
    start_exporter: StartExporter,
    setup: tuple[str, Path],  # noqa: F811
) -> None:
    password, config = setup
    exporter = start_exporter("--config.file", str(config), "--audit.interval", "1s")

    def failed() -> bool:
        errors = exporter.metrics().get("cachescope_config_audit_errors_total", instance="denies")
        return bool(errors) and errors[0] >= 1

    wait_for(failed, what="a failed audit of the target that refuses INFO")
    wait_for(lambda: "configuration audit could not read" in exporter.log(), what="its log line")
    assert "info denied for <redacted>" in exporter.log()
    assert leaks(exporter.log(), password) == [], exporter.log()
    assert leaks(exporter.get("/metrics")[1], password) == []


def test_the_audit_page_is_rendered_from_the_registry() -> None:
    assert AUDIT_PAGE.read_text() == docs.audit_page(), (
        "docs/audit.md is stale: run `cachescope rules docs`"
    )


def test_the_audit_page_has_every_check_with_what_it_reads() -> None:
    page = docs.audit_page()
    sections = dict((section.split("\n", 1)[0], section) for section in page.split("\n## ")[1:])
    assert list(sections) == [check.name for check in audits.ALL]
    for check in audits.ALL:
        section = sections[check.name]
        assert f"kind: {check.kind}; category: {check.category}" in section
        assert check.rationale in section and check.action in section
        assert all(f"`{name}`" in section for name in check.needs), check.name


def test_the_fleet_dashboard_lists_the_findings_high_priority_first() -> None:
    board = fleet.build(thresholds.load())
    [panel] = [p for p in board["panels"] if p["title"] == "Configuration findings"]
    assert panel["type"] == "table"
    [query] = panel["targets"]
    assert "cachescope_config_finding{" in query["expr"] and query["instant"]
    assert 'job=~"$job", instance=~"$instance"' in query["expr"]
    assert "by (job, instance, check, severity)" in query["expr"]
    assert panel["options"]["sortBy"] == [{"displayName": "priority", "desc": True}]
    [column] = panel["fieldConfig"]["overrides"]
    mapped = {prop["id"]: prop["value"] for prop in column["properties"]}
    texts = {k: v["text"] for k, v in mapped["mappings"][0]["options"].items()}
    assert texts == {"3": "high", "2": "medium", "1": "low"}
    assert any("#cachescopeconfigfinding" in link["url"] for link in mapped["links"])


def test_a_target_reached_through_an_allow_pattern_is_audited_too(
    start_redis: StartRedis, start_exporter: StartExporter, tmp_path: Path
) -> None:
    """The multi-target pattern: no target configured, Prometheus names them in /scrape."""
    server = start_redis("--maxmemory", "0", "--latency-monitor-threshold", "100")
    config = tmp_path / "cachescope.yml"
    config.write_text('scrape:\n  allow:\n    - pattern: "redis://127.0.0.1:*"\n')
    exporter = start_exporter("--config.file", str(config), "--audit.interval", "1s")
    path = "/scrape?target=" + quote(server.uri, safe="")

    def found() -> list[dict[str, str]]:
        status, body = exporter.get(path)
        assert status == 200, body
        return findings(Exposition(body), check="maxmemory-unset")

    wait_for(found, what="the maxmemory-unset finding of an allowed target")
    assert found() == [{"check": "maxmemory-unset", "severity": "medium"}]
