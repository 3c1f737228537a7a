"""Big and hot keys of a whole pass over the keyspace: reported until a pass misses them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from prometheus import Prometheus, render_rules
from servers import Exporter, Exposition, RedisServer, wait_for
from test_keyspace import config

KEYS, LIST_LENGTH, HOT_READS = 300_000, 200_000, 5_000


@pytest.fixture
def crowded(start_redis) -> RedisServer:  # type: ignore[no-untyped-def]
    """300,000 small keys, one list of 200,000 elements, one key read thousands of times."""
    server: RedisServer = start_redis(
        "--enable-debug-command", "yes", "--maxmemory", "1gb", "--maxmemory-policy", "allkeys-lfu"
    )
    client = server.client()
    client.execute_command("DEBUG", "POPULATE", KEYS, "key", 20)  # test setup only
    for start in range(0, LIST_LENGTH, 10_000):
        client.rpush("biglist", *range(start, start + 10_000))
    client.set("hotkey", "warm")
    for _ in range(HOT_READS // 500):
        pipe = client.pipeline(transaction=False)
        for _ in range(500):
            pipe.get("hotkey")
        pipe.execute()
    client.config_set("slowlog-log-slower-than", 10_000)  # 10 ms
    client.slowlog_reset()
    return server


def top_keys(metrics: Exposition, family: str) -> set[str]:
    return {labels["key"] for name, labels, _ in metrics.samples if name == family}


def counter(metrics: Exposition, name: str) -> float:
    return metrics.value(name, instance="cache")


def test_big_and_hot_keys_of_a_pass_stay_until_a_pass_no_longer_finds_them(
    crowded: RedisServer,
    start_exporter,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    path = config(
        tmp_path,
        crowded,
        interval="1s",
        keys_per_cycle=100_000,
        commands_per_second=1_000_000,
        time_cap="5m",
        scan_count=1000,
        top=5,
    )
    exporter: Exporter = start_exporter("--config.file", path)
    # RedisBigKeys, judged by a real Prometheus: its `for` shortened, and its threshold set
    # below the list's size (about 950 KB; the shipped 10 MiB is for far bigger keys).
    override = tmp_path / "thresholds.yml"
    alert = {"for": "5s", "threshold": 500_000}
    override.write_text(
        yaml.safe_dump({"selector": 'job="cachescope"', "alerts": {"RedisBigKeys": alert}})
    )
    prometheus = Prometheus(tmp_path, exporter.port, render_rules(override, tmp_path / "rules"))
    try:
        wait_for(
            lambda: counter(exporter.metrics(), "redis_keyspace_passes_total") >= 1,
            timeout=240,
            what="a whole pass over 300,000 keys at 100,000 keys per cycle",
        )
        metrics = exporter.metrics()
        assert "biglist" in top_keys(metrics, "redis_big_key_elements")
        assert "hotkey" in top_keys(metrics, "redis_hot_key_lfu_frequency")
        assert metrics.value("redis_keyspace_pass_estimated_seconds", instance="cache") == 4.0
        status, page = exporter.get("/")
        assert status == 200 and "completed, a pass takes about 4s" in page

        # Every scrape of the next three cycles still has them: no cycle's slice hides them.
        cycles, seen = 0, counter(metrics, "redis_keyspace_sample_commands_total")
        deadline = time.monotonic() + 240
        slowest = 0.0
        while cycles < 3 and time.monotonic() < deadline:
            started = time.monotonic()
            metrics = exporter.metrics()
            slowest = max(slowest, time.monotonic() - started)
            assert "biglist" in top_keys(metrics, "redis_big_key_elements")
            assert "hotkey" in top_keys(metrics, "redis_hot_key_lfu_frequency")
            commands = counter(metrics, "redis_keyspace_sample_commands_total")
            cycles, seen = cycles + (commands > seen), commands
            time.sleep(0.2)
        assert cycles >= 3, "the sampler did not run three more cycles"
        # The sampler works in its own thread: a scrape never waits for a cycle. (A scrape
        # of one Redis takes milliseconds; the bound only catches one held up by a cycle.)
        assert slowest < 1.0, f"/metrics took {slowest:.2f}s while the sampler ran"
        wait_for(
            lambda: ("RedisBigKeys", "warning", "cache") in prometheus.firing(),
            timeout=60,
            what="RedisBigKeys firing in Prometheus",
        )

        crowded.client().unlink("biglist")
        deleted_during = counter(exporter.metrics(), "redis_keyspace_passes_total")
        # The pass under way may have seen the list already; the one after cannot have.
        wait_for(
            lambda: (
                counter(exporter.metrics(), "redis_keyspace_passes_total") >= deleted_during + 2
            ),
            timeout=240,
            what="the pass after the deletion",
        )
        assert "biglist" not in top_keys(exporter.metrics(), "redis_big_key_elements")
        assert crowded.client().slowlog_get(128) == []
    finally:
        prometheus.stop()
