"""Hostile configuration: nothing a config file holds may hang, explode or raise a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cachescope.cli import main
from cachescope.config.loader import parse_config
from cachescope.config.yamlmarks import ConfigError, MarkedYAML
from cachescope.rules import thresholds
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

# Under 400 bytes that expand to 9**9 strings: PyYAML's composer keeps one node per anchor,
# so only whoever expands the aliases pays.
ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)

# Runs `config check` as a grandchild so that its peak memory is measured alone, with an
# address-space cap so that a regression fails the test instead of the machine.
_MEASURE = """
import json, resource, subprocess, sys
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (768 << 20, 768 << 20))
done = subprocess.run(sys.argv[1:], capture_output=True, text=True, preexec_fn=cap, timeout=60)
print(json.dumps({"rc": done.returncode, "stderr": done.stderr,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def config_check_measured(path: Path) -> tuple[int, str, float, int]:
    """Exit status, stderr, seconds and peak RSS (KiB) of `cachescope config check PATH`."""
    command = [sys.executable, "-m", "cachescope", "config", "check", str(path)]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, timeout=90
    )
    seconds = time.monotonic() - started
    result = json.loads(done.stdout)
    return result["rc"], result["stderr"], seconds, result["maxrss_kib"]


def check(path: Path) -> tuple[int, str]:
    """`cachescope config check PATH` in this process."""
    result = CliRunner().invoke(main, ["config", "check", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


TARGET = "targets:\n  - uri: redis://127.0.0.1:1\n"


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (TARGET + "    timeout: .nan\n", ":3: targets[0].timeout:", "between 1ms and 10m"),
        (TARGET + "    timeout: .inf\n", ":3: targets[0].timeout:", "between 1ms and 10m"),
        (TARGET + "    timeout: -.inf\n", ":3: targets[0].timeout:", "between 1ms and 10m"),
        (TARGET + "    timeout: 99999999999h\n", ":3: targets[0].timeout:", "between"),
        (TARGET + "    timeout: 0.0000001\n", ":3: targets[0].timeout:", "between"),
        ("defaults:\n  timeout: 1.0e+400\n", ":2: defaults.timeout:", "between"),
        (
            TARGET + "    discover: {kind: cluster, interval: .nan}\n",
            ":3: targets[0].discover.interval:",
            "between",
        ),
        (
            TARGET + "    keyspace: {interval: .inf}\n",
            ":3: targets[0].keyspace.interval:",
            "between",
        ),
        (
            TARGET + "    keyspace: {keys_per_cycle: 100000000000000}\n",
            ":3: targets[0].keyspace.keys_per_cycle:",
            "between 1 and",
        ),
        ("targets: &loop [*loop]\n", ":1:", "recursive alias"),
        ("targets:\n  - uri: !!int abc\n", ":2: targets[0].uri:", "!!int"),
        ("targets:\n  - uri: !!float x\n", ":2: targets[0].uri:", "!!float"),
        ("targets:\n  - !cachescope redis://a:1\n", ":2: targets[0]:", "tag"),
        (
            "targets: !!python/object/apply:os.system ['true']\n",
            ":1: targets:",
            "tag",
        ),
        ("targets:\n  - !!binary aGk=\n", ":2: targets[0]:", "tag"),
        ("targets: !!set {a, b}\n", ":1: targets:", "tag"),
        ("targets: []\ndefaults: {}\ntargets: []\n", ":3: targets:", "duplicate key"),
        (TARGET + "    name: a\n    name: b\n", ":4: targets[0].name:", "duplicate key"),
        ("defaults: {? [a]: b}\n", ":1: defaults:", "key"),
        ("targets: " + "[" * 5000 + "\n", ":1:", "nested"),
        ("x: 1\n" + "#" * (1 << 20) + "\n", "", "larger than 1 MiB"),
    ],
)
def test_config_check_refuses_with_a_located_message(
    tmp_path: Path, text: str, where: str, words: str
) -> None:
    path = tmp_path / "cachescope.yml"
    path.write_text(text)
    status, output = check(path)
    assert status == 1, output
    assert f"error: {path}{where}" in output
    assert words in output
    assert "Traceback" not in output


def test_config_check_refuses_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "cachescope.yml"
    path.write_bytes(b"targets:\n  - uri: redis://127.0.0.1:1\n    name: caf\xe9\n")
    status, output = check(path)
    assert status == 1
    assert f"error: {path}:3: not UTF-8" in output


def test_merge_keys_are_expanded_with_the_explicit_keys_first(tmp_path: Path) -> None:
    path = tmp_path / "cachescope.yml"
    path.write_text(
        "base: &base {uri: 'redis://10.0.0.1:6379', timeout: 2s}\n"
        "targets:\n  - <<: *base\n    name: a\n  - <<: *base\n    name: b\n    timeout: 3s\n"
    )
    doc = MarkedYAML(path.read_bytes(), str(path))
    assert doc.data["targets"] == [
        {"uri": "redis://10.0.0.1:6379", "timeout": "2s", "name": "a"},
        {"uri": "redis://10.0.0.1:6379", "timeout": "3s", "name": "b"},
    ]
    assert doc.lines[("targets", 1, "timeout")] == 7


def test_alias_bomb_is_refused_quickly_and_in_little_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yml"
    path.write_text(ALIAS_BOMB)
    assert len(ALIAS_BOMB.encode()) < 400
    status, stderr, seconds, maxrss_kib = config_check_measured(path)
    assert status == 1, stderr
    assert f"error: {path}:" in stderr and "alias" in stderr
    assert "Traceback" not in stderr
    assert seconds < 20
    assert maxrss_kib < 200 * 1024  # the interpreter and its imports take about 40 MiB


def test_a_password_file_that_never_ends_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cachescope.yml"
    path.write_text(TARGET + "    password_file: /dev/zero\n")
    status, stderr, seconds, _ = config_check_measured(path)
    assert status == 1, stderr
    assert f"error: {path}:3: targets[0].password_file:" in stderr
    assert "not a regular file" in stderr
    assert seconds < 20


def test_a_fifo_as_password_file_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "pw"
    os.mkfifo(fifo)
    path = tmp_path / "cachescope.yml"
    path.write_text(TARGET + f"    password_file: {fifo}\n")
    status, stderr, seconds, _ = config_check_measured(path)
    assert status == 1, stderr
    assert f"error: {path}:3: targets[0].password_file:" in stderr
    assert "not a regular file" in stderr
    assert seconds < 20


def test_a_big_password_file_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_bytes(b"x" * (65 << 10))
    path = tmp_path / "cachescope.yml"
    path.write_text(TARGET + f"    password_file: {secret}\n")
    status, output = check(path)
    assert status == 1
    assert f"error: {path}:3: targets[0].password_file:" in output
    assert "larger than 64 KiB" in output


def test_a_fifo_as_config_file_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "cachescope.yml"
    os.mkfifo(fifo)
    status, stderr, seconds, _ = config_check_measured(fifo)
    assert status == 1, stderr
    assert f"error: {fifo}: " in stderr and "not a regular file" in stderr
    assert seconds < 20


_YAMLISH = st.text(
    alphabet=st.sampled_from(list("ab01:-[]{},&*!<>?|'\"#%@`\n\t .\\") + ["\x00", "é", "\ufeff"]),
    max_size=80,
)


@settings(max_examples=400, deadline=None)
@given(_YAMLISH)
def test_the_yaml_reader_raises_only_config_errors(text: str) -> None:
    with contextlib.suppress(ConfigError):
        MarkedYAML(text, "fuzz.yml")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60))
def test_the_yaml_reader_takes_any_bytes(data: bytes) -> None:
    with contextlib.suppress(ConfigError):
        MarkedYAML(data, "fuzz.yml")


@pytest.mark.parametrize("value", [".nan", ".inf"])
def test_a_threshold_that_is_not_finite_is_refused(tmp_path: Path, value: str) -> None:
    path = tmp_path / "mine.yml"
    path.write_text(f"alerts:\n  RedisHitRatioLow:\n    threshold: {value}\n")
    with pytest.raises(ConfigError) as caught:
        thresholds.load(path)
    assert str(caught.value).startswith(f"{path}:3: alerts.RedisHitRatioLow.threshold:")
    assert "finite" in str(caught.value)


def test_a_thresholds_file_goes_through_the_same_reader(tmp_path: Path) -> None:
    path = tmp_path / "mine.yml"
    path.write_text("alerts:\n  RedisHitRatioLow: &x {enabled: *x}\n")
    with pytest.raises(ConfigError, match="recursive alias"):
        thresholds.load(path)


def test_a_large_fleet_sharing_settings_through_a_merge_key_is_within_the_budget() -> None:
    lines = ["targets:"]
    for i in range(3000):
        lines.append(f"  - uri: redis://10.0.{i // 250}.{i % 250}:6379")
        lines.append(
            "    <<: &common {timeout: 2s, labels: {team: payments, tier: cache}}"
            if i == 0
            else "    <<: *common"
        )
    config = parse_config("\n".join(lines))
    assert len(config.targets) == 3000
    assert config.targets[-1].labels == (("team", "payments"), ("tier", "cache"))
    assert config.targets[-1].timeout == 2
