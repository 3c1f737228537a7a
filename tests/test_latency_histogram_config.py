"""Turning the latency histograms off or down: the flags, redis_exporter's, a target's settings."""

from __future__ import annotations

import click
import pytest
from cachescope.cli import serve
from cachescope.config.loader import parse_config
from cachescope.config.records import RedisOptions
from cachescope.config.yamlmarks import ConfigError

pytestmark = pytest.mark.unit


def params(*args: str) -> tuple[bool, int]:
    """(--redis.latency-histograms, --redis.latency-histograms-every) after translation."""
    context = serve.make_context("serve", list(args))
    values = context.params
    return values["redis_latency_histograms"], values["redis_latency_histograms_every"]


def test_on_by_default_and_off_by_flag() -> None:
    assert params() == (True, 1)
    assert params("--no-redis.latency-histograms") == (False, 1)
    assert params("--redis.latency-histograms-every", "4") == (True, 4)


def test_redis_exporter_flag_turns_them_off_and_its_false_keeps_them() -> None:
    assert params("-exclude-latency-histogram-metrics") == (False, 1)
    assert params("--exclude-latency-histogram-metrics=true") == (False, 1)
    assert params("-exclude-latency-histogram-metrics=false") == (True, 1)


def test_redis_exporter_variable_turns_them_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_EXPORTER_EXCLUDE_LATENCY_HISTOGRAM_METRICS", "1")
    assert params() == (False, 1)


def test_every_out_of_range_is_refused() -> None:
    with pytest.raises(click.BadParameter):
        params("--redis.latency-histograms-every", "0")


def test_a_target_turns_them_off_or_down_and_a_bad_value_names_file_line_and_field() -> None:
    config = parse_config(
        "targets:\n  - uri: redis://a:6379\n    latency_histograms: false\n"
        "  - uri: redis://b:6379\n    latency_histograms_every: 5\n  - redis://c:6379\n"
    )
    options = [target.redis for target in config.targets]
    assert [(o.latency_histograms, o.latency_histograms_every) for o in options] == [
        (False, 1),
        (True, 5),
        (True, 1),
    ]
    with pytest.raises(ConfigError) as caught:
        parse_config(
            "targets:\n  - uri: redis://a:6379\n    latency_histograms_every: 0\n", "c.yml"
        )
    assert str(caught.value).startswith("c.yml:3: targets[0].latency_histograms_every: ")
    with pytest.raises(ConfigError, match="for Redis targets"):
        parse_config("targets:\n  - uri: memcached://a\n    latency_histograms: false\n")


def test_off_anywhere_wins_and_the_longer_interval_wins() -> None:
    flags = RedisOptions(latency_histograms=False, latency_histograms_every=3)
    assert RedisOptions().merged(flags) == flags
    target = RedisOptions(latency_histograms_every=10)
    merged = target.merged(RedisOptions(latency_histograms_every=3))
    assert (merged.latency_histograms, merged.latency_histograms_every) == (True, 10)
