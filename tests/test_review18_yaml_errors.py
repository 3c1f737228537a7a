"""Review of issue 18: the four YAML inputs report errors alike, or refuse what cannot work.

Each test is a break found from outside (through the real loaders the CLI calls), kept as a
strict xfail until the exporter was fixed; they now pass.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cachescope.config.loader import load_config
from cachescope.config.yamlmarks import ConfigError
from cachescope.rules import thresholds
from cachescope.rules.render import render
from cachescope.web.webconfig import load_web_config

pytestmark = pytest.mark.unit

TARGET = "targets:\n  - uri: redis://127.0.0.1:1\n"
# '<file>:<line>: <field.path>: must be <wanted>, not <kind in YAML words>'
TYPE_ERROR = re.compile(r"^\S+:\d+: [\w.\[\]]+: must be .+, not (a list|a mapping|true/false)$")


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "input.yml"
    path.write_text(text)
    return str(path)


def test_a_huge_for_duration_in_the_thresholds_is_a_located_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "alerts:\n  RedisDown:\n    for: 100000000000d\n")
    with pytest.raises(ConfigError) as caught:
        thresholds.load(path)
    assert caught.value.line == 3 and caught.value.field == "alerts.RedisDown.for"


def test_a_for_at_the_upper_bound_still_reaches_the_rule_file(tmp_path: Path) -> None:
    """The bound refuses typos only: 30d is kept and rendered as written."""
    path = _write(tmp_path, "alerts:\n  RedisDown:\n    for: 30d\n")
    rendered = repr(render(thresholds.load(path)))
    assert "30d" in rendered


def test_a_tls_min_version_above_the_max_is_a_located_error(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "tls_server_config:\n  cert_file: C\n  key_file: K\n"
        "  min_version: TLS13\n  max_version: TLS12\n",
    )
    _with_cert(tmp_path, path)
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    assert "tls_server_config.m" in caught.value.field


# A self-signed P-256 pair valid for a century: no process or socket needed to make one.
CERT = """-----BEGIN CERTIFICATE-----
MIIBezCCASKgAwIBAgITTecsJEFxANRVuku8xzsuRzZXRDAKBggqhkjOPQQDAjAT
MREwDwYDVQQDDAhyZXZpZXcxODAgFw0yNjExMjYxNTEyMzRaGA8yMTI2MTEwMjE1
MTIzNFowEzERMA8GA1UEAwwIcmV2aWV3MTgwWTATBgcqhkjOPQIBBggqhkjOPQMB
BwNCAAS+I/z55L6c05PKvaGWKh3dNVas89vkLvtowpBEC6eIGAyg7M+DcCq6DO1b
WRHqk4ZOVxCok82wbmwJXQVtsgBxo1MwUTAdBgNVHQ4EFgQUDKDegglYIceGXcxx
3fY5RVdlB1wwHwYDVR0jBBgwFoAUDKDegglYIceGXcxx3fY5RVdlB1wwDwYDVR0T
AQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiBX/ODzPHG7kdRy0wUk020GKP4c
5xpledwfod2Pr+8BAQIgUGPXt6/ckD3ytcUWsWWQgxbTf091QMpzReaAJVDzlHU=
-----END CERTIFICATE-----
"""
KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg0n/Sr2F7dyePbQc/
7Rr9ZUfdFrJqoVf6b4FVAeI6ggqhRANCAAS+I/z55L6c05PKvaGWKh3dNVas89vk
LvtowpBEC6eIGAyg7M+DcCq6DO1bWRHqk4ZOVxCok82wbmwJXQVtsgBx
-----END PRIVATE KEY-----
"""


def _with_cert(tmp_path: Path, path: str) -> None:
    """Replace C and K in the file with the pair above."""
    (tmp_path / "c.pem").write_text(CERT)
    (tmp_path / "k.pem").write_text(KEY)
    text = Path(path).read_text()
    text = text.replace(": C\n", f": {tmp_path / 'c.pem'}\n")
    Path(path).write_text(text.replace(": K\n", f": {tmp_path / 'k.pem'}\n"))


def _message(load: object, path: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(path)  # type: ignore[operator]
    return str(caught.value)


def test_a_non_mapping_root_reads_the_same_in_every_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "- a\n")
    messages = {
        _message(load, path).split(": ", 1)[1]
        for load in (load_config, load_web_config, thresholds.load)
    }
    assert messages == {"must be a mapping, not a list"}


@pytest.mark.parametrize(
    ("which", "text"),
    [
        ("config", TARGET + "    timeout: [1s]\n"),
        ("config", TARGET + "    timeout: true\n"),
        ("config", TARGET + "    keyspace: {interval: {a: 1}}\n"),
        ("thresholds", "alerts:\n  RedisDown:\n    for: [1m]\n"),
        ("thresholds", "alerts:\n  RedisRestarted:\n    window: {a: 1}\n"),
    ],
)
def test_a_duration_of_the_wrong_type_is_worded_like_any_wrong_type(
    tmp_path: Path, which: str, text: str
) -> None:
    load = load_config if which == "config" else thresholds.load
    assert TYPE_ERROR.match(_message(load, _write(tmp_path, text)))


def test_out_of_range_values_share_one_wording(tmp_path: Path) -> None:
    cost31 = "$2b$31$" + "a" * 53
    cases = [
        (load_config, TARGET + "    keyspace: {top: -1}\n"),
        (load_config, TARGET + "    timeout: 0s\n"),
        (load_config, TARGET + "    timeout: -1s\n"),
        (thresholds.load, "alerts:\n  RedisRestarted:\n    window: 0s\n"),
        (load_web_config, f"basic_auth_users: {{a: '{cost31}'}}\n"),
    ]
    shape = re.compile(r"^\S+:\d+: [\w.\[\]]+: must be .+, not .+$")
    worded = [_message(load, _write(tmp_path, text)) for load, text in cases]
    assert [m for m in worded if not shape.match(m)] == []
