"""Search indexes on a real redis-server with Debian's RediSearch (1.2) loaded.

A target's `search_indexes` are read with FT.INFO in the scrape's round trip and
exported as redis_exporter's redis_search_index_* families; an index that does not
exist, or a server without the module, costs one error reply, not one per scrape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cachescope.redis import search
from servers import RedisServer

pytestmark = pytest.mark.live

REDISEARCH = Path("/usr/lib/redis/modules/redisearch.so")


def with_search(start_redis: Any) -> RedisServer:
    """A redis-server with RediSearch loaded; its absence fails (CI installs it)."""
    assert REDISEARCH.exists(), "apt-get install redis-redisearch (scripts/test.sh does)"
    return start_redis("--loadmodule", str(REDISEARCH))  # type: ignore[no-any-return]


def exporter_for(start_exporter: Any, tmp_path: Path, server: RedisServer, *names: str) -> Any:
    listed = ", ".join(f'"{name}"' for name in names)
    config = tmp_path / "cachescope.yml"
    config.write_text(f"targets:\n  - uri: {server.uri}\n    search_indexes: [{listed}]\n")
    return start_exporter("--config.file", str(config))


def error_replies(client: Any) -> int:
    """total_error_replies, through one kept connection: redis-py's connect costs errors."""
    return int(client.info("stats")["total_error_replies"])


def test_index_families_carry_what_ft_info_says(
    start_redis: Any, start_exporter: Any, tmp_path: Path
) -> None:
    server = with_search(start_redis)
    client = server.client()
    client.execute_command("FT.CREATE", "products", "SCHEMA", "title", "TEXT", "price", "NUMERIC")
    for i in range(20):
        client.execute_command(
            "FT.ADD", "products", f"p{i}", "1.0", "FIELDS", "title", f"red shoe {i}", "price", i
        )
    exporter = exporter_for(start_exporter, tmp_path, server, "products")
    metrics = exporter.metrics()
    info = search.parse_ft_info(client.execute_command("FT.INFO", "products"))
    assert info["num_docs"] == 20  # redis-py speaks RESP3 here: doubles, not strings
    exported = {
        name: value
        for name, labels, value in metrics.samples
        if name.startswith("redis_search_index_") and labels["index_name"] == "products"
    }
    expected = {
        "redis_search_index_" + field.metric: value for field, value in search.index_values(info)
    }
    assert expected["redis_search_index_num_docs"] == 20
    assert exported == pytest.approx(expected)
    assert metrics.types["redis_search_index_num_docs"] == "gauge"
    assert metrics.value("cachescope_target_capability", capability="search") == 1


def test_a_missing_index_has_no_series_one_error_reply_and_one_log_line(
    start_redis: Any, start_exporter: Any, tmp_path: Path
) -> None:
    server = with_search(start_redis)
    client = server.client()
    client.execute_command("FT.CREATE", "here", "SCHEMA", "t", "TEXT")
    exporter = exporter_for(start_exporter, tmp_path, server, "here", "absent")
    first = exporter.metrics()
    before = error_replies(client)
    assert client.info("errorstats")["errorstat_Unknown"]["count"] == 1  # Unknown Index name
    for _ in range(10):
        metrics = exporter.metrics()
    assert error_replies(client) == before  # "absent" is not asked every scrape
    assert metrics.value("cachescope_search_indexes_missing") == 1
    assert metrics.get("redis_search_index_num_docs", index_name="absent") == []
    assert metrics.value("redis_search_index_num_docs", index_name="here") == 0
    assert first.value("redis_up") == 1
    assert exporter.log().count("search index does not exist") == 1


def test_a_server_without_the_module_is_asked_once_in_30_scrapes(
    start_redis: Any, start_exporter: Any, tmp_path: Path
) -> None:
    server = start_redis()
    client = server.client()
    base = error_replies(client)  # connected: what redis-py's own connect costs is counted
    exporter = exporter_for(start_exporter, tmp_path, server, "products", "orders.*")
    exporter.metrics()
    before = error_replies(client)
    assert before - base == 2  # FT.INFO and FT._LIST, unknown commands, once each
    for _ in range(30):
        metrics = exporter.metrics()
    assert error_replies(client) == before
    assert metrics.value("cachescope_target_capability", capability="search") == 0
    assert metrics.value("cachescope_target_capability", capability="search_list") == 0
    assert metrics.value("redis_up") == 1
    assert not [n for n in metrics.names() if n.startswith("redis_search_index_")]


def test_at_most_50_indexes_are_read_per_target(
    start_redis: Any, start_exporter: Any, tmp_path: Path
) -> None:
    server = with_search(start_redis)
    names = [f"ix{i:02d}" for i in range(search.MAX_INDEXES + 5)]
    client = server.client()
    for name in names:
        client.execute_command("FT.CREATE", name, "SCHEMA", "t", "TEXT")
    exporter = exporter_for(start_exporter, tmp_path, server, *names)
    metrics = exporter.metrics()
    read = {
        labels["index_name"]
        for name, labels, _ in metrics.samples
        if name == "redis_search_index_num_docs"
    }
    assert read == set(names[: search.MAX_INDEXES])
    assert metrics.value("cachescope_search_indexes_over_cap") == 5
    assert exporter.log().count("more search indexes match") == 1
