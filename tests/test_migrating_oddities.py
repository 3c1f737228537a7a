"""The peers' habits that are not flags: several addresses, logrus levels, accepted no-ops."""

from __future__ import annotations

import click
import pytest
from cachescope.clioptions import COMPAT_KEY
from cachescope.config.compatargs import Translation
from cachescope.config.flags import TargetFlags
from cachescope.config.yamlmarks import ConfigError
from test_migrating_flags import parse


def _notes(ctx: click.Context) -> list[str]:
    translation: Translation = ctx.meta[COMPAT_KEY]
    return translation.notes


def test_comma_separated_addresses_say_how_to_give_several() -> None:
    flags = TargetFlags(
        config_file=None,
        targets=("redis://10.0.0.1:6379,redis://10.0.0.2:6379",),
        user=None,
        password_file=None,
        timeout="5s",
        allow=(),
    )
    with pytest.raises(ConfigError) as caught:
        flags.load()
    message = str(caught.value)
    assert message.startswith("--target: ") and "one address per --target or REDIS_ADDR" in message


@pytest.mark.parametrize(
    ("given", "level"),
    [
        ("trace", "debug"),
        ("debug", "debug"),
        ("warn", "warn"),
        ("fatal", "error"),
        ("panic", "error"),
    ],
)
def test_redis_exporter_log_levels_map_onto_ours(given: str, level: str) -> None:
    ctx = parse(f"-log-level={given}")
    assert ctx.params["log_level"] == ("warning" if level == "warn" else level)


def test_an_unknown_log_level_is_refused_with_the_levels_it_takes() -> None:
    with pytest.raises(click.UsageError) as caught:
        parse("-log-level=verbose")
    assert "trace, debug, info, warn, error, fatal or panic" in caught.value.message


def test_an_accepted_default_says_it_changes_nothing_and_what_else_would_do() -> None:
    (note,) = [n for n in _notes(parse("-namespace=redis")) if "namespace" in n]
    assert "--namespace=redis changes nothing here; another value is refused:" in note
    (note,) = [n for n in _notes(parse("-is-cluster")) if "is-cluster" in n]
    assert "changes nothing here: not needed" in note
