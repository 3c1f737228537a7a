"""Every YAML input reports a wrong type, an unknown key and an out-of-range value alike.

`<file>:<line>: <field.path>: <what is wrong>`, whichever of the four files it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cachescope.config.loader import load_config
from cachescope.config.yamlmarks import ConfigError
from cachescope.rules import thresholds
from cachescope.web.webconfig import load_web_config
from test_config_hostile import check

TARGET = "targets:\n  - uri: redis://127.0.0.1:1\n"
KEYSPACE = TARGET + "    keyspace:\n"
RATIO = "alerts:\n  RedisHitRatioLow:\n"

# (loader, text, line, field, words in the message)
CASES = {
    "config-type": ("config", TARGET + "    name: [a, b]\n", 3, "targets[0].name", "a string"),
    "config-unknown": (
        "config",
        TARGET + "    pasword: x\n",
        3,
        "targets[0].pasword",
        "did you mean 'password'",
    ),
    "config-range": ("config", TARGET + "    timeout: 20m\n", 3, "targets[0].timeout", "10m"),
    "web-type": ("web", "basic_auth_users: [prom]\n", 1, "basic_auth_users", "a mapping"),
    "web-unknown": (
        "web",
        "basic_auth_user: {}\n",
        1,
        "basic_auth_user",
        "did you mean 'basic_auth_users'",
    ),
    "web-range": (
        "web",
        "tls_server_config:\n  min_version: TLS14\n",
        2,
        "tls_server_config.min_version",
        "TLS13",
    ),
    "keyspace-type": (
        "config",
        KEYSPACE + "      prefer_replica: 1\n",
        4,
        "targets[0].keyspace.prefer_replica",
        "true or false",
    ),
    "keyspace-unknown": (
        "config",
        KEYSPACE + "      intervall: 5m\n",
        4,
        "targets[0].keyspace.intervall",
        "did you mean 'interval'",
    ),
    "keyspace-range": (
        "config",
        KEYSPACE + "      top: 5000\n",
        4,
        "targets[0].keyspace.top",
        "1000",
    ),
    "thresholds-type": (
        "thresholds",
        RATIO + "    enabled: maybe\n",
        3,
        "alerts.RedisHitRatioLow.enabled",
        "true or false",
    ),
    "thresholds-unknown": (
        "thresholds",
        RATIO + "    treshold: 0.9\n",
        3,
        "alerts.RedisHitRatioLow.treshold",
        "did you mean 'threshold'",
    ),
    "thresholds-range": (
        "thresholds",
        RATIO + "    threshold: 95\n",
        3,
        "alerts.RedisHitRatioLow.threshold",
        "between 0 and 1",
    ),
}
LOADERS = {
    "config": load_config,
    "web": load_web_config,
    "thresholds": thresholds.load,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_yaml_input_reports_file_line_and_field_path_alike(tmp_path: Path, case: str) -> None:
    loader, text, line, field, words = CASES[case]
    path = tmp_path / "input.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        LOADERS[loader](str(path))
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: {field}: "), message
    assert words in message, message
    assert (caught.value.source, caught.value.line, caught.value.field) == (str(path), line, field)


@pytest.mark.parametrize("case", ["config-type", "config-unknown", "keyspace-range"])
def test_config_check_prints_the_same_located_message(tmp_path: Path, case: str) -> None:
    _, text, line, field, words = CASES[case]
    path = tmp_path / "cachescope.yml"
    path.write_text(text)
    status, output = check(path)
    assert status == 1
    assert output.startswith(f"error: {path}:{line}: {field}: "), output
    assert words in output and "Traceback" not in output


@pytest.mark.parametrize(
    "entry",
    [
        "    password: [hunter2]\n",
        "    password: {hunter2: x}\n",
        "    tls: {insecure_skip_verify: hunter2}\n",
        "    pasword: hunter2\n",
    ],
)
def test_a_misplaced_secret_never_shows_in_the_error(tmp_path: Path, entry: str) -> None:
    path = tmp_path / "cachescope.yml"
    path.write_text(TARGET + entry)
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    message = str(caught.value)
    assert "hunter2" not in message
    assert message.startswith(f"{path}:3: targets[0].") and message.count(str(path)) == 1, message


@pytest.mark.parametrize(
    ("loader", "text", "line", "field"),
    [
        ("config", "targets:\n  -\n", 2, "targets[0]"),
        ("config", "scrape:\n  allow:\n    -\n", 3, "scrape.allow[0]"),
        (
            "config",
            TARGET + "    keyspace:\n      groups: [null]\n",
            4,
            "targets[0].keyspace.groups[0]",
        ),
        ("thresholds", "alerts:\n  RedisDown:\n", 2, "alerts.RedisDown"),
    ],
)
def test_an_empty_entry_where_a_mapping_belongs_is_located(
    tmp_path: Path, loader: str, text: str, line: int, field: str
) -> None:
    path = tmp_path / "input.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        LOADERS[loader](str(path))
    assert str(caught.value).startswith(f"{path}:{line}: {field}: must be a mapping")


def test_empty_sections_still_mean_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "cachescope.yml"
    path.write_text(
        "defaults:\nscrape:\n" + TARGET + "    discover:\n      kind: cluster\n      nodes:\n"
    )
    config = load_config(str(path))
    assert config.allow == [] and config.targets[0].discovery is not None
