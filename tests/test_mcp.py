"""`cachescope mcp` over stdio with the SDK's own client, against real Redis and Memcached.

One server process serves the whole module, with one config naming every target: a
healthy LRU cache, a noeviction cache after an OOM, a down target, a password-protected
Redis, a Memcached, a primary with a replica, a cluster, a sentinel, a sampled keyspace
and a Redis that never answers. Tests read like what an assistant would ask.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import HostileServer, never_answers
from mcp.shared.exceptions import MCPError
from mcpstdio import StdioSession, text
from mcpworld import OVERRIDDEN, SECRET, VALUE, World, started
from servers import wait_for

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with started(tmp_path_factory.mktemp("mcp")) as built:
        yield built


@pytest.fixture
def session(world: World) -> StdioSession:
    return world.session


@pytest.fixture
def trap() -> Iterator[HostileServer]:
    """A recording listener on a free loopback port that no config names."""
    server = HostileServer(never_answers)
    yield server
    server.stop()


def findings_of(report: dict[str, object], key: str = "recommendations") -> list[dict]:
    return list(report[key])  # type: ignore[call-overload]


def line_of(health: dict[str, object], target: str) -> dict:
    lines = [line for line in health["targets"] if line["target"] == target]  # type: ignore[attr-defined]
    assert len(lines) == 1, health
    return dict(lines[0])


# --- what the server offers -------------------------------------------------------------


TOOLS = {
    "list_targets",
    "fleet_health",
    "analyze_target",
    "keyspace_report",
    "explain_alert",
    "topology",
}


def test_list_targets_as_the_first_call_already_knows_who_is_down(session: StdioSession) -> None:
    # First in the module: nothing has read the targets yet, as when an assistant starts.
    rows = {row["name"]: row for row in session.ok("list_targets")["targets"]}
    assert rows["down"]["up"] is False and "refused" in rows["down"]["lastError"].lower()
    assert rows["lru"]["up"] is True and rows["lru"]["role"] == "master"
    assert rows["replica"]["role"] == "replica"  # as topology says, not INFO's "slave"


def test_lists_six_read_only_tools_each_with_an_input_schema(session: StdioSession) -> None:
    tools = session.list_tools().tools
    assert {tool.name for tool in tools} == TOOLS
    for tool in tools:
        assert tool.input_schema["type"] == "object", tool.name
        assert tool.description, tool.name
        assert tool.annotations is not None and tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False
    analyze = next(tool for tool in tools if tool.name == "analyze_target")
    assert analyze.input_schema["required"] == ["target"]


def test_prompts_name_the_target_and_the_tools(session: StdioSession) -> None:
    names = {prompt.name for prompt in session.list_prompts().prompts}
    assert names == {"diagnose_slow_cache", "review_fleet_before_peak"}
    prompt = session.get_prompt("diagnose_slow_cache", target="lru")
    words = prompt.messages[0].content.text
    assert 'analyze_target("lru"' in words and "topology" in words
    review = session.get_prompt("review_fleet_before_peak").messages[0].content.text
    assert "fleet_health" in review


def test_a_prompt_without_its_argument_is_refused_by_name(session: StdioSession) -> None:
    with pytest.raises(MCPError) as caught:
        session.get_prompt("diagnose_slow_cache")
    assert "target" in caught.value.error.message
    assert "Traceback" not in session.stderr()


def test_resources_give_thresholds_in_force_and_a_runbook(session: StdioSession) -> None:
    uris = {str(resource.uri) for resource in session.list_resources().resources}
    assert "cachescope://thresholds" in uris
    templates = session.list_resource_templates().resource_templates
    assert any(t.uri_template == "cachescope://runbook/{alertname}" for t in templates)
    thresholds = json.loads(session.read_resource("cachescope://thresholds").contents[0].text)
    assert thresholds["RedisMemoryNearLimit"]["warning"]["threshold"] == OVERRIDDEN
    runbook = session.read_resource("cachescope://runbook/RedisDown").contents[0].text
    assert runbook.startswith("# RedisDown") and len(runbook) > 100


# --- the fleet ----------------------------------------------------------------------------


def test_list_targets_shows_the_down_target_with_its_error(world: World) -> None:
    session = world.session
    session.ok("fleet_health")  # the targets have been read once
    answer = session.ok("list_targets")
    rows = {row["name"]: row for row in answer["targets"]}
    assert rows["down"]["up"] is False
    assert "refused" in rows["down"]["lastError"].lower()
    assert rows["lru"]["up"] is True and rows["lru"]["lastError"] is None
    assert rows["memcached"]["kind"] == "memcached" and rows["memcached"]["up"] is True
    assert rows["sampled"]["keyspaceSampling"] is True
    assert answer["allowPatterns"] == [f"redis://127.0.0.1:{world.allowed.port}"]


def test_fleet_health_puts_down_targets_first_and_a_healthy_lru_cache_without_alarm(
    session: StdioSession,
) -> None:
    health = session.ok("fleet_health")
    statuses = [line["status"] for line in health["targets"]]
    assert statuses == sorted(statuses), "errors come first"
    down = line_of(health, "down")
    assert down["status"] == "error" and "refused" in down["error"].lower()
    assert down["worst"] == "critical"
    lru = line_of(health, "lru")
    assert lru["status"] == "success" and lru["memoryUsedPercent"] > 50
    assert {f["priority"] for f in lru["findings"]} <= {"medium", "low"}, lru
    oom = line_of(health, "oom")
    assert any(f.get("alert") == "RedisOutOfMemoryErrors" for f in oom["findings"]), oom
    assert line_of(health, "replica")["role"] == "replica"
    memcached = line_of(health, "memcached")
    assert memcached["status"] == "success" and memcached["kind"] == "memcached"


def test_analyze_a_healthy_lru_cache_finds_nothing_critical_or_high(
    session: StdioSession,
) -> None:
    report = session.ok("analyze_target", target="lru", interval="1s")
    assert report["status"] == "success" and report["operation"] == "analyze-cache"
    assert report["metrics"], report
    urgent = [f for f in findings_of(report) if f["priority"] in ("critical", "high")]
    assert urgent == []


def test_analyze_a_noeviction_cache_after_an_oom_says_what_to_do(session: StdioSession) -> None:
    report = session.ok("analyze_target", target="oom", interval="1s")
    oom = [f for f in findings_of(report) if f.get("alert") == "RedisOutOfMemoryErrors"]
    assert len(oom) == 1, report
    # The OOM happened before the interval: one step below the alert's critical.
    assert oom[0]["priority"] == "high"
    assert "raise maxmemory" in oom[0]["action"]


def test_analyze_a_down_target_reports_its_error(session: StdioSession) -> None:
    report = session.ok("analyze_target", target="down", interval="1s")
    assert report["status"] == "error"
    assert "refused" in report["error"].lower()
    assert any(f.get("alert") == "RedisDown" for f in findings_of(report))


def test_analyze_memcached(session: StdioSession) -> None:
    report = session.ok("analyze_target", target="memcached", interval="1s")
    assert report["status"] == "success"
    assert report["metrics"]


def test_analyze_memcached_with_a_password_from_the_config(session: StdioSession) -> None:
    report = session.ok("analyze_target", target="memcached-auth", interval="1s")
    assert report["status"] == "success", report
    assert SECRET not in json.dumps(report)


def test_calls_at_once_all_answer(session: StdioSession) -> None:
    calls = [
        ("fleet_health", {}),
        ("list_targets", {}),
        ("analyze_target", {"target": "lru", "interval": "1s"}),
        ("analyze_target", {"target": "memcached", "interval": "1s"}),
        ("topology", {"target": "primary"}),
        ("explain_alert", {"alertname": "RedisDown"}),
    ]
    results = session.concurrently(calls)
    assert [result.is_error for result in results] == [False] * len(calls), [
        text(result) for result in results
    ]


def test_analyze_refuses_a_bad_interval_with_the_reason(session: StdioSession) -> None:
    assert "interval" in session.refused("analyze_target", target="lru", interval="soon")
    assert "between 1s and 60s" in session.refused("analyze_target", target="lru", interval="2h")


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"target": "lru", "interval": 2}, "interval"),
        ({"interval": "1s"}, "target"),
        ({"target": ["lru"]}, "target"),
    ],
)
def test_arguments_of_the_wrong_shape_are_refused_in_one_line(
    session: StdioSession, arguments: dict[str, object], field: str
) -> None:
    message = session.refused("analyze_target", **arguments)
    assert field in message
    assert "\n" not in message and "pydantic" not in message


# --- safety -------------------------------------------------------------------------------


@pytest.mark.parametrize("tool", ["analyze_target", "topology", "keyspace_report"])
@pytest.mark.parametrize("form", ["redis://127.0.0.1:{port}", "127.0.0.1:{port}"])
def test_a_target_outside_the_config_is_refused_without_a_connection(
    session: StdioSession, trap: HostileServer, tool: str, form: str
) -> None:
    message = session.refused(tool, target=form.format(port=trap.port))
    assert "not in the config" in message
    assert "\n" not in message
    assert trap.connections == 0 and trap.received == b""


@pytest.mark.parametrize("tool", ["analyze_target", "topology"])
def test_credentials_in_a_target_uri_are_refused_and_not_echoed(
    world: World, trap: HostileServer, tool: str
) -> None:
    for port in (trap.port, world.allowed.port):
        message = world.session.refused(tool, target=f"redis://:{SECRET}@127.0.0.1:{port}")
        assert "credentials" in message and SECRET not in message
    assert trap.connections == 0


def test_an_allow_pattern_admits_a_matching_address(world: World) -> None:
    target = f"redis://127.0.0.1:{world.allowed.port}"
    report = world.session.ok("analyze_target", target=target, interval="1s")
    assert report["status"] == "success"
    assert world.session.ok("topology", target=target)["role"] == "master"


# --- topology -----------------------------------------------------------------------------


def test_topology_of_a_primary_shows_its_replica(world: World) -> None:
    answer = world.session.ok("topology", target="primary")
    assert answer["topology"] == "standalone" and answer["role"] == "master"
    replica = world.servers["replica"].port
    assert [r["address"] for r in answer["replicas"]] == [f"127.0.0.1:{replica}"]
    assert answer["replicas"][0]["state"] == "online"
    mine = world.session.ok("topology", target="replica")
    assert mine["role"] == "replica" and mine["linkStatus"] == "up"
    assert mine["primary"] == f"127.0.0.1:{world.servers['primary'].port}"


def test_topology_of_a_cluster_lists_nodes_and_every_slot(world: World) -> None:
    answer = world.session.ok("topology", target="cluster")
    assert answer["topology"] == "cluster"
    assert (answer["primaries"], answer["replicas"]) == (3, 3)
    assert answer["slotsCovered"] == 16384
    addresses = {node["address"] for node in answer["nodes"]}
    assert addresses == {f"127.0.0.1:{node.port}" for node in world.cluster.nodes}
    assert sum(node["thisNode"] for node in answer["nodes"]) == 1


def test_topology_of_a_sentinel_lists_its_master_set(world: World) -> None:
    answer = world.session.ok("topology", target="sentinel")
    assert answer["topology"] == "sentinel"
    (master_set,) = answer["masterSets"]
    assert master_set["name"] == "mymaster" and master_set["quorum"] == 2
    assert master_set["master"] == f"127.0.0.1:{world.sentinels.primary.port}"
    assert master_set["sentinels"] == 3
    replicas = {r["address"] for r in master_set["replicas"]}
    assert replicas == {f"127.0.0.1:{r.port}" for r in world.sentinels.replicas}


def test_topology_of_memcached_says_it_has_none(session: StdioSession) -> None:
    assert session.ok("topology", target="memcached")["topology"] == "standalone"


# --- keyspace -----------------------------------------------------------------------------


def test_keyspace_report_shows_groups_and_big_keys_but_no_value(session: StdioSession) -> None:
    def sampled() -> bool:
        return bool(session.ok("keyspace_report", target="sampled")["keyGroups"])

    wait_for(sampled, timeout=60, what="the sampler's first pass")
    result = session.call("keyspace_report", target="sampled")
    report = result.structured_content
    groups = {group["group"]: group for group in report["keyGroups"]}
    assert groups["user"]["keys"] == 300
    assert groups["sess"]["ttlCoveragePercent"] == 100.0
    assert groups["user"]["ttlCoveragePercent"] == 0.0
    assert report["bigKeysByMemory"][0]["key"] == "blob:big"
    assert report["passesCompleted"] >= 1
    assert VALUE not in result.model_dump_json()


def test_keyspace_report_without_a_sampler_says_how_to_turn_it_on(session: StdioSession) -> None:
    message = session.refused("keyspace_report", target="lru")
    assert "keyspace:" in message and "config" in message
    memcached = session.refused("keyspace_report", target="memcached")
    assert "Redis" in memcached and "keyspace:" not in memcached


# --- alerts -------------------------------------------------------------------------------


def test_explain_alert_gives_promql_runbook_and_the_overridden_threshold(
    session: StdioSession,
) -> None:
    answer = session.ok("explain_alert", alertname="RedisMemoryNearLimit")
    assert answer["thresholds"]["warning"]["threshold"] == OVERRIDDEN
    severities = {rule["labels"]["severity"]: rule for rule in answer["rules"]}
    assert set(severities) == {"warning", "critical"}
    assert f"{OVERRIDDEN:g}" in severities["warning"]["expr"]
    assert "redis_memory_utilization:ratio" in severities["critical"]["expr"]
    assert "> 0.9\n" in severities["critical"]["expr"]
    assert answer["action"] and len(answer["runbook"]) > 100


def test_explain_alert_of_an_unknown_name_suggests_close_ones(session: StdioSession) -> None:
    message = session.refused("explain_alert", alertname="MemoryNearLimit")
    assert "did you mean" in message and "RedisMemoryNearLimit" in message


def test_explain_alert_suggests_the_alert_a_typo_meant(session: StdioSession) -> None:
    message = session.refused("explain_alert", alertname="RedisMemoryNearLimt")
    assert "did you mean RedisMemoryNearLimit" in message


def test_a_refusal_does_not_echo_a_huge_argument(session: StdioSession) -> None:
    for tool, argument in (("explain_alert", "alertname"), ("topology", "target")):
        message = session.refused(tool, **{argument: "R" * 100_000})
        assert len(message) < 1000, (tool, len(message))


# --- bounds -------------------------------------------------------------------------------


def test_a_redis_that_never_answers_costs_its_timeout_not_a_hang(world: World) -> None:
    start = time.monotonic()
    result = world.session.call("analyze_target", target="hostile", interval="1s")
    elapsed = time.monotonic() - start
    # The tool's own limit is 90s; the target's timeout (1s) twice over plus the
    # interval is what it may cost: 15s is far from both.
    assert elapsed < 15, elapsed
    message = text(result)
    if not result.is_error:
        assert result.structured_content["status"] == "error"
        message = result.structured_content["error"]
    assert "timeout" in message.lower() or "timed out" in message.lower(), message
    assert "\n" not in message


# --- secrets, last: every answer of the module is searched ---------------------------------


@pytest.mark.parametrize("tool", ["analyze_target", "topology"])
def test_a_server_that_echoes_the_password_in_its_error_does_not_leak_it(
    session: StdioSession, tool: str
) -> None:
    result = session.call(tool, target="echoes")
    answer = result.model_dump_json()
    assert "AUTH" in answer  # the server's error is reported...
    assert SECRET not in answer  # ...without the password it repeated


def test_the_password_appears_in_no_answer_and_no_log(session: StdioSession) -> None:
    for target in ("secret", "secret-down", "echoes", "memcached-auth"):
        session.call("analyze_target", target=target, interval="1s")
        session.call("topology", target=target)
        session.call("keyspace_report", target=target)
        session.get_prompt("diagnose_slow_cache", target=target)
    session.call("list_targets")
    session.call("fleet_health")
    session.read_resource("cachescope://thresholds")
    assert session.ok("analyze_target", target="secret", interval="1s")["status"] == "success"
    assert len(session.answers) > 30
    for answer in session.answers:
        assert SECRET not in answer
        assert "Traceback" not in answer
    assert SECRET not in session.stderr()
    assert "Traceback" not in session.stderr()


# --- start-up -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "thresholds", "where"),
    [
        ("targets:\n  - uri: redis://a:1\n    pasword: x\n", None, "3: targets[0].pasword"),
        (
            f"targets:\n  - redis://:{SECRET}@a:1\n",
            "alerts:\n  RedisMemoryNearLimit:\n    warning: {threshold: 2.5}\n",
            "3: alerts.RedisMemoryNearLimit.warning.threshold",
        ),
    ],
)
def test_a_bad_file_stops_the_server_naming_file_line_and_field(
    tmp_path: Path, config: str, thresholds: str | None, where: str
) -> None:
    (tmp_path / "c.yml").write_text(config)
    args = ["--config.file", str(tmp_path / "c.yml")]
    if thresholds is not None:
        (tmp_path / "t.yml").write_text(thresholds)
        args += ["--thresholds", str(tmp_path / "t.yml")]
    done = subprocess.run(
        [sys.executable, "-m", "cachescope", "mcp", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert where in done.stderr
    assert "Traceback" not in done.stderr and SECRET not in done.stderr
