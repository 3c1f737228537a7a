"""Flags and files that would start a dead or wrong exporter are refused at start, in words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cachescope.cli import main
from cachescope.config.flags import _password_map, telemetry_paths
from cachescope.config.yamlmarks import ConfigError
from cachescope.web.server import parse_listen_address
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit


@given(port=st.integers(65536, 10**30))
def test_a_listen_port_above_65535_is_a_message(port: int) -> None:
    with pytest.raises(ValueError, match="0 to 65535"):
        parse_listen_address(f"127.0.0.1:{port}")


@pytest.mark.parametrize("text", [":0", ":9121", "[::1]:65535"])
def test_a_listen_port_in_range_is_read(text: str) -> None:
    assert 0 <= parse_listen_address(text)[1] <= 65535


def test_a_listen_port_in_other_digits_is_refused() -> None:
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_listen_address(":\u0669\u0660\u0660\u0660")  # Arabic-Indic digits: int() reads them


@pytest.mark.parametrize("path", ["/m?x=1", "/m m", "/m\u00e9trics", "/m#x", "/m%20x", "/m\n"])
def test_a_telemetry_path_a_request_line_cannot_carry_is_refused(path: str) -> None:
    with pytest.raises(ConfigError, match="--web.telemetry-path"):
        telemetry_paths(path)


@pytest.mark.parametrize("path", ["/metrics", "/prometheus/metrics", "/m-1_x.~", "/a:b@c"])
def test_a_plain_telemetry_path_is_kept(path: str) -> None:
    assert path in telemetry_paths(path)


def test_a_password_map_naming_one_target_twice_is_refused_without_the_passwords() -> None:
    text = json.dumps({"cache-a:6379": "one-Secret", "redis://cache-a:6379/0": "two-Secret"})
    with pytest.raises(ValueError) as caught:
        _password_map(text, {})
    assert "twice" in str(caught.value) and "cache-a:6379" in str(caught.value)
    assert "Secret" not in str(caught.value)


def test_a_password_map_naming_one_target_twice_with_one_password_is_fine() -> None:
    text = json.dumps({"cache-a:6379": "same", "redis://CACHE-A:6379": "same"})
    assert len(_password_map(text, {})) == 2


def test_the_refusal_names_the_file(tmp_path: Path) -> None:
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"127.0.0.1:1": "a-Secret", "redis://127.0.0.1:1": "b"}))
    result = CliRunner().invoke(main, ["serve", "--redis.password-file", str(passwords)])
    assert result.exit_code != 0 and str(passwords) in result.output, result.output
    assert "a-Secret" not in result.output
