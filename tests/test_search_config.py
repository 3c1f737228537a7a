"""`search_indexes` in the config, --redis.search-indexes, and redis_exporter's two flags."""

from __future__ import annotations

import click
import pytest
from cachescope.cli import serve
from cachescope.config.loader import parse_config
from cachescope.config.yamlmarks import ConfigError

pytestmark = pytest.mark.unit


def indexes(*args: str) -> tuple[str, ...]:
    """What --redis.search-indexes ends up as, once the peers' flags are translated."""
    return serve.make_context("serve", list(args)).params["redis_search_indexes"]  # type: ignore[no-any-return]


def test_a_target_names_its_indexes_and_a_bad_regex_names_file_line_and_field() -> None:
    config = parse_config(
        "targets:\n  - uri: redis://a:6379\n    search_indexes: [idx, 'shop_.*']\n"
    )
    assert config.targets[0].redis.search_indexes == ("idx", "shop_.*")
    with pytest.raises(ConfigError) as caught:
        parse_config("targets:\n  - uri: redis://a:6379\n    search_indexes: ['shop_(']\n", "c.yml")
    assert str(caught.value).startswith("c.yml:3: targets[0].search_indexes[0]: ")
    assert "search_indexes" in str(caught.value)
    with pytest.raises(ConfigError, match="for Redis targets"):
        parse_config("targets:\n  - uri: memcached://a\n    search_indexes: [idx]\n")


def test_the_flag_is_repeatable_and_refuses_a_bad_regex() -> None:
    assert indexes("--redis.search-indexes", "a", "--redis.search-indexes=b.*") == ("a", "b.*")
    with pytest.raises(click.BadParameter):
        indexes("--redis.search-indexes", "b(")


def test_redis_exporter_switch_reads_every_index() -> None:
    assert indexes("-include-search-indexes-metrics") == (".*",)
    assert indexes("-include-search-indexes-metrics=false") == ()


def test_redis_exporter_regex_matches_anywhere_and_only_with_the_switch() -> None:
    both = indexes("-check-search-indexes=shop", "-include-search-indexes-metrics")
    assert both == (".*(?:shop).*",)
    assert indexes("--include-search-indexes-metrics", "--check-search-indexes", "a|b") == (
        ".*(?:a|b).*",
    )
    assert indexes("-check-search-indexes=shop") == ()  # redis_exporter reads none either
    with pytest.raises(click.UsageError):
        indexes("-include-search-indexes-metrics", "-check-search-indexes=shop(")
