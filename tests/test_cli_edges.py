"""The command line's rough edges: each message says what to do, each exit code means one thing."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
from cachescope.analyze.output import _duration
from cachescope.cli import main
from cachescope.config.loader import load_config
from cachescope.config.yamlmarks import ConfigError
from cachescope.rules import thresholds
from cachescope.web.webconfig import load_web_config
from click.testing import CliRunner
from servers import RedisServer

ANALYZE = [sys.executable, "-m", "cachescope", "analyze", "--interval", "2s"]


def _config(tmp_path: Path, *names: str) -> Path:
    path = tmp_path / "cfg.yml"
    body = "".join(f"  - name: {name}\n    uri: redis://127.0.0.1:1\n" for name in names)
    path.write_text("targets:\n" + body)
    return path


def test_analyze_without_a_target_says_what_to_give() -> None:
    result = CliRunner().invoke(main, ["analyze"])
    assert result.exit_code == 1
    error = result.output.split("Error: ", 1)[1]
    assert "redis://host:6379" in error and "--config.file" in error, result.output


def test_analyze_unknown_name_in_a_config_is_a_usage_error_listing_names(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, "cache-a", "cache-b")
    result = CliRunner().invoke(main, ["analyze", "--config", str(config), "nosuchname"])
    # 1, the bad-invocation code: 2 would claim a critical finding on a cache.
    assert result.exit_code == 1, result.output
    assert f"no target named nosuchname in {config}" in result.output
    assert "cache-a, cache-b" in result.output


def test_analyze_with_a_config_still_takes_a_host_and_port(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    config = _config(tmp_path, "cache-a")
    address = f"127.0.0.1:{redis_server.port}"
    result = CliRunner().invoke(
        main, ["analyze", "--interval", "1s", "--format", "json", "--config", str(config), address]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "success"


def test_analyze_shows_progress_on_a_terminal(redis_server: RedisServer) -> None:
    leader, follower = pty.openpty()
    env = dict(os.environ, TERM="dumb")
    process = subprocess.Popen(
        [*ANALYZE, redis_server.uri], stdout=subprocess.PIPE, stderr=follower, env=env
    )
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        assert ready, shown
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the process closed its end
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    report, _ = process.communicate(timeout=30)
    assert f"sampling 127.0.0.1:{redis_server.port}: 0s of 2s".encode() in shown, shown
    assert b"of 2s" in shown.rsplit(b"sampling", 1)[1]
    assert b"sampling" not in report  # the report itself stays clean


def test_analyze_is_quiet_when_piped(redis_server: RedisServer) -> None:
    done = subprocess.run([*ANALYZE, redis_server.uri], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""


def test_analyze_table_gives_units_and_yes_no(redis_server: RedisServer) -> None:
    result = CliRunner().invoke(main, ["analyze", "--interval", "1s", redis_server.uri])
    assert result.exit_code == 0, result.output
    assert " s, sampled over 1 s" in result.output, result.output
    assert "last rdb save ok yes" in result.output
    assert "True" not in result.output and "False" not in result.output


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (45, "45 s"),
        (119, "119 s"),
        (120, "2 min"),
        (7199, "119 min"),
        (7200, "2 h 0 min"),
        (3 * 86400 + 7200, "3 d 2 h"),
        (None, "-"),
    ],
)
def test_durations_read_as_a_person_reads_them(seconds: int | None, shown: str) -> None:
    assert _duration(seconds) == shown


BROKEN = "targets:\n  - name: a\n    uri: redis://x:1\n   timeout: [\n"


@pytest.mark.parametrize(
    "load", [load_config, load_web_config, thresholds.load], ids=["config", "web", "thresholds"]
)
def test_a_yaml_syntax_error_names_file_line_column_and_reason(tmp_path: Path, load) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "broken.yml"
    path.write_text(BROKEN)
    with pytest.raises(ConfigError) as caught:
        load(str(path))
    assert str(caught.value) == (
        f"{path}:4:4: invalid YAML: this line's indentation does not match the lines above"
    )


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ('a: "open\nb: 1\n', "1:4", "a quoted string that is not closed"),
        ("a: [1, 2\nb: 3\n", "1:4", "a [ list ] that is not closed"),
        ("a: 1\n\tb: 2\n", "2:1", "a tab; YAML indents with spaces only"),
        ("a: b: c\n", "1:5", "a ': ' inside a value; quote the value"),
        ("a: *nope\n", "1:4", "an alias (*name) with no anchor (&name) before it"),
    ],
)
def test_config_check_shows_yaml_syntax_errors_located(
    tmp_path: Path, text: str, where: str, reason: str
) -> None:
    path = tmp_path / "cfg.yml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 1
    assert result.output == f"error: {path}:{where}: invalid YAML: {reason}\n"


def test_dashboards_render_without_output_writes_nothing_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["dashboards", "render"])
    assert result.exit_code == 2
    assert "give --output DIR" in result.output
    assert list(tmp_path.iterdir()) == []


def test_config_check_is_the_one_spelling_and_check_config_a_hidden_alias(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path, "cache-a")
    shown = CliRunner().invoke(main, ["--help"]).output
    assert "check-config" not in shown and "config" in shown
    for spelling in (["config", "check"], ["check-config"]):
        result = CliRunner().invoke(main, [*spelling, str(config)])
        assert result.exit_code == 0, result.output
        assert result.output.endswith("1 targets, 0 allow rules: OK\n")
