"""Configuration: good files load, bad ones name file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from cachescope.config.allow import parse_pattern
from cachescope.config.loader import load_config, parse_config
from cachescope.config.schema import parse_duration
from cachescope.config.targets import parse_uri
from cachescope.config.yamlmarks import ConfigError


def test_full_config_loads(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    config = parse_config(f"""
defaults:
  timeout: 2s
targets:
  - uri: redis://10.0.0.1:6379/2
    name: cache-a
    labels: {{team: payments}}
    password_file: {secret}
  - redis://:inline@10.0.0.2:6380
  - uri: memcached://10.0.0.3
    timeout: 500ms
scrape:
  allow:
    - pattern: "redis://10.0.0.0/8:*"
""")
    first, second, third = config.targets
    assert first.name == "cache-a" and first.endpoint.db == 2 and first.timeout == 2
    assert first.labels == (("team", "payments"),)
    assert (
        first.credentials.password is not None and first.credentials.password.reveal() == "s3cret"
    )
    assert second.name == "10.0.0.2:6380"
    assert (
        second.credentials.password is not None and second.credentials.password.reveal() == "inline"
    )
    assert (
        third.endpoint.kind == "memcached" and third.endpoint.port == 11211 and third.timeout == 0.5
    )
    assert config.allow[0].pattern.matches(parse_uri("redis://10.9.9.9:7000"))


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        (
            "targets:\n  - uri: redis://a:1\n    timeout: soon\n",
            3,
            "targets[0].timeout",
            "must be a duration between 1ms and 10m (as 250ms, 5s, 1m or 1h), not 'soon'",
        ),
        (
            "targets:\n  - uri: redis://a:1\n    pasword: x\n",
            3,
            "targets[0].pasword",
            "unknown field",
        ),
        ("targets:\n  - name: x\n", 2, "targets[0]", "missing required field 'uri'"),
        ("targets:\n  - uri: ftp://a\n", 2, "targets[0].uri", "unknown scheme"),
        (
            "targets:\n  - redis://a:1\n  - uri: redis://b:1\n    name: a:1\n",
            4,
            "targets[1].name",
            "duplicate",
        ),
        (
            "targets:\n  - uri: redis://a:1\n    labels: {instance: x}\n",
            3,
            "targets[0].labels.instance",
            "not a usable label name",
        ),
        (
            "scrape:\n  allow:\n    - pattern: redis://10.0.0.0/33:*\n",
            3,
            "scrape.allow[0].pattern",
            "33",
        ),
        (
            "targets:\n  - uri: redis://a:1\n    password_file: /nonexistent/pw\n",
            3,
            "targets[0].password_file",
            "cannot read password file",
        ),
        ("targets: [\n", 2, "", "invalid YAML"),
    ],
)
def test_bad_config_names_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str, message: str
) -> None:
    path = tmp_path / "cachescope.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    error = caught.value
    assert (error.source, error.line, error.field) == (str(path), line, field)
    assert message in str(error)
    assert str(error).startswith(f"{path}:{line}:")


def test_error_for_a_uri_with_a_password_does_not_repeat_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("targets:\n  - redis://:hunter2@host:notaport\n")
    assert "hunter2" not in str(caught.value)


def test_secrets_do_not_show_in_repr() -> None:
    config = parse_config("targets:\n  - redis://user:hunter2@host:1\n")
    assert "hunter2" not in repr(config)


@pytest.mark.parametrize(
    ("pattern", "uri", "allowed"),
    [
        ("redis://10.0.0.0/8:*", "redis://10.1.2.3:7000", True),
        ("redis://10.0.0.0/8:*", "redis://11.1.2.3:6379", False),
        ("redis://10.0.0.0/8:*", "redis://cache.internal:6379", False),  # names are never resolved
        ("redis://10.0.0.0/8:6379", "redis://10.1.2.3:6380", False),
        ("redis://10.0.0.0/8:*", "rediss://10.1.2.3:6379", False),
        ("rediss://*.cache.internal:6379", "rediss://a.cache.internal:6379", True),
        ("rediss://*.cache.internal:6379", "rediss://a.cache.internal.evil.com:6379", False),
        ("memcached://[fd00::/8]:*", "memcached://[fd00::1]:11211", True),
        ("unix:///run/redis/*.sock", "unix:///run/redis/a.sock", True),
        ("unix:///run/redis/*.sock", "unix:///tmp/a.sock", False),
    ],
)
def test_allow_patterns(pattern: str, uri: str, allowed: bool) -> None:
    assert parse_pattern(pattern).matches(parse_uri(uri)) is allowed


@pytest.mark.parametrize(("text", "seconds"), [("5s", 5), ("250ms", 0.25), ("1m", 60), (3, 3)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds
