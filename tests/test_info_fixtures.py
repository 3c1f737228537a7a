"""INFO replies of servers that cannot run here, as canned fixtures: KeyDB, Dragonfly, Redis Stack.

The fixtures in tests/fixtures/ are written from each server's documented INFO
format (KeyDB's multi-master replication lines, Dragonfly's server_family INFO,
Redis Stack's `# Modules` lines). Each test says which metrics that reply must give.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from cachescope.exposition.families import MetricSet, render
from cachescope.redis import sections
from cachescope.redis.parse import parse_info
from servers import Exposition

FIXTURES = Path(__file__).parent / "fixtures"


def info(name: str) -> bytes:
    """A fixture as the server sends it: CRLF line ends."""
    return (FIXTURES / name).read_text().replace("\n", "\r\n").encode()


def build(name: str) -> Exposition:
    metrics = MetricSet()
    fields = parse_info(info(name))
    databases = sections.add_info(metrics, fields, now=10_000.0)
    sections.add_config(metrics, {}, fields, ("maxmemory", "maxclients", "io-threads"))
    sections.add_keyspace(metrics, databases, 16)
    return Exposition(render(metrics))


def instance_info(exp: Exposition) -> dict[str, str]:
    (labels,) = [labels for name, labels, _ in exp.samples if name == "redis_instance_info"]
    return labels


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*_info.txt")))
def test_every_fixture_renders_valid_unique_series(name: str) -> None:
    exp = build(name)
    assert len(exp.samples) > 10
    seen = set()
    for sample, labels, value in exp.samples:
        key = (sample, tuple(sorted(labels.items())))
        assert key not in seen, f"duplicate series {key}"
        seen.add(key)
        assert not math.isnan(value), sample
        family = exp.family_of(sample)
        assert family is not None, f"{sample} has no # TYPE"
        if exp.types[family] == "counter":
            assert value >= 0, f"negative counter {sample}"
        assert "#" not in sample and "master_1" not in sample, sample


def test_keydb_multimaster_gives_one_link_per_primary() -> None:
    exp = build("keydb_multimaster_info.txt")
    first = {"master_host": "10.0.0.11", "master_port": "6379"}
    second = {"master_host": "10.0.0.12", "master_port": "6380"}
    assert exp.value("redis_master_link_up", **first) == 1
    assert exp.value("redis_master_link_up", **second) == 0
    assert exp.value("redis_master_sync_in_progress", **first) == 0
    assert exp.value("redis_master_sync_in_progress", **second) == 1
    assert exp.value("redis_master_last_io_seconds_ago", **second) == -1
    assert exp.value("redis_slave_repl_offset", **first) == 5000
    assert exp.value("redis_connected_masters") == 2
    assert exp.value("redis_server_threads_total") == 2
    assert exp.value("redis_connected_slave_lag_seconds", slave_ip="10.0.0.11") == 0
    assert exp.value("redis_db_keys", db="db0") == 120
    labels = instance_info(exp)
    assert labels["role"] == "active-replica"
    assert "availability_zone" not in labels  # empty in INFO: no label
    assert exp.get("redis_slave_info") == []  # redis_exporter keeps it for role "slave"


def test_keydb5_repeated_master_blocks_are_numbered_like_keydb6() -> None:
    fields = parse_info(info("keydb5_multimaster_info.txt"))
    assert fields["master_port"] == "8882" and fields["master_1_port"] == "8883"
    assert fields["slave_repl_offset#1"] == "1"
    exp = build("keydb5_multimaster_info.txt")
    second = {"master_host": "127.0.0.1", "master_port": "8883"}
    assert exp.value("redis_master_link_up", master_port="8882") == 1
    assert exp.value("redis_master_link_up", **second) == 0
    assert exp.value("redis_master_sync_in_progress", **second) == 1
    assert exp.value("redis_slave_repl_offset", **second) == 1
    assert exp.value("redis_slave_repl_offset", master_port="8882") == 29397077805


def test_dragonfly_info_maps_to_redis_names_without_its_placeholders() -> None:
    exp = build("dragonfly_info.txt")
    labels = instance_info(exp)
    assert labels["dragonfly_version"] == "df-v1.25.1"
    assert labels["redis_version"] == "7.4.0"
    assert labels["maxmemory_policy"] == "noeviction"
    assert exp.value("redis_memory_used_bytes") == 2155200
    assert exp.value("redis_memory_max_bytes") == 8589934592
    assert exp.value("redis_keyspace_hits_total") == 30
    assert exp.value("redis_connections_received_total") == 42
    assert exp.value("redis_db_keys", db="db0") == 5
    assert exp.value("redis_db_keys_expiring", db="db0") == 1
    # Dragonfly's -1 means "not tracked": absent, not a negative counter or rate.
    assert exp.get("redis_rejected_connections_total") == []
    assert exp.get("redis_instantaneous_input_kbps") == []
    assert exp.get("redis_db_avg_ttl_seconds") == []  # avg_ttl=-1: not computed
    # Errorstats lines without Redis' errorstat_ prefix, commandstats as in Redis.
    assert exp.value("redis_errors_total", err="syntax_error") == 2
    assert exp.value("redis_errors_total", err="wrong_type") == 1
    assert exp.value("redis_commands_total", cmd="get") == 34
    assert not any("frobnicate" in s.lower() for s, _, _ in exp.samples)  # unknown_* dropped
    modules = {labels["name"] for s, labels, _ in exp.samples if s == "redis_module_info"}
    assert modules == {"ReJSON", "search"}
    assert exp.value("redis_search_num_indices") == 1  # unnamed numeric fields still come
    assert exp.types["redis_search_num_indices"] == "untyped"


def test_old_dragonfly_commandstats_lines_become_calls() -> None:
    fields = parse_info(b"# Commandstats\r\ncmd_GET:5\r\nunknown_FOO:1\r\n")
    assert fields == {"cmdstat_get": "calls=5"}


def test_redis_stack_modules_give_module_info_and_module_command_stats() -> None:
    exp = build("redis_stack_info.txt")
    modules = {
        labels["name"]: labels for sample, labels, _ in exp.samples if sample == "redis_module_info"
    }
    assert set(modules) == {"timeseries", "search", "ReJSON", "bf", "redisgears_2"}
    assert modules["search"] == {
        "name": "search",
        "ver": "20811",
        "api": "1",
        "filters": "0",
        "usedby": "[]",
        "using": "[ReJSON]",
    }
    assert modules["ReJSON"]["usedby"] == "[search]"
    assert exp.value("redis_commands_total", cmd="json.set") == 20
    assert exp.value("redis_commands_failed_calls_total", cmd="ft.search") == 1
    assert exp.value("redis_latency_percentiles_usec_count", cmd="ft.search") == 8
    assert exp.value("redis_module_fork_in_progress") == 0  # a Persistence field, not a module
    assert exp.value("redis_db_keys", db="db0") == 30
