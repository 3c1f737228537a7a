"""Hostile keyspaces against the whole-pass sampler: databases that empty, keys that shrink."""

from __future__ import annotations

import math
import signal
import time
from collections import Counter
from pathlib import Path

import redis
from servers import Exporter, Exposition, RedisServer, wait_for
from test_keyspace import config

KEYED = ("redis_big_key_memory_bytes", "redis_big_key_elements", "redis_hot_key_lfu_frequency")
PER_DB = (*KEYED, "redis_key_group_keys_estimated", "redis_keyspace_sampled_keys")


def fast(tmp_path: Path, server: RedisServer, **options: object) -> str:
    """A sampler that makes a pass in a few one-second cycles."""
    settings: dict[str, object] = {
        "interval": "1s",
        "keys_per_cycle": 5000,
        "commands_per_second": 200_000,
        "scan_count": 100,
        "top": 3,
        "check_keys": [],
        "streams": [],
        **options,
    }
    return config(tmp_path, server, **settings)


def passes(exporter: Exporter) -> float:
    values = exporter.metrics().get("redis_keyspace_passes_total", instance="cache")
    return values[0] if values else 0.0


def wait_passes(exporter: Exporter, count: float, timeout: float = 45) -> None:
    wait_for(lambda: passes(exporter) >= count, timeout=timeout, what=f"{count} whole passes")


def keys_of(metrics: Exposition, family: str, db: str) -> dict[str, float]:
    return {
        labels["key"]: value
        for name, labels, value in metrics.samples
        if name == family and labels.get("db") == db
    }


def dbs_reported(metrics: Exposition) -> set[str]:
    return {labels["db"] for name, labels, _ in metrics.samples if name in PER_DB}


def duplicates(metrics: Exposition) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    seen = Counter((name, tuple(sorted(labels.items()))) for name, labels, _ in metrics.samples)
    return [series for series, count in seen.items() if count > 1]


def populate(server: RedisServer, keys: int, db: int = 0) -> redis.Redis:
    client = server.client(db=db)
    client.execute_command("DEBUG", "POPULATE", keys, "key", 20)  # test setup only
    return client


def test_a_database_emptied_after_a_pass_leaves_at_the_next_passes(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis("--enable-debug-command", "yes")
    populate(server, 12_000)
    db3 = server.client(db=3)
    db3.rpush("db3list", *range(5000))
    exporter: Exporter = start_exporter("--config.file", fast(tmp_path, server))
    wait_passes(exporter, 1)
    assert "db3list" in keys_of(exporter.metrics(), "redis_big_key_elements", "db3")
    db3.flushdb()  # db3 leaves INFO keyspace altogether
    done = passes(exporter)
    wait_passes(exporter, done + 2)
    assert "db3" not in dbs_reported(exporter.metrics())


def test_a_keyspace_emptied_to_nothing_reports_no_keys_and_a_sane_progress(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis("--enable-debug-command", "yes")
    client = populate(server, 12_000)
    client.set("blob", "z" * 100_000)
    exporter: Exporter = start_exporter("--config.file", fast(tmp_path, server))
    wait_passes(exporter, 1)
    assert "blob" in keys_of(exporter.metrics(), "redis_big_key_memory_bytes", "db0")
    client.flushall()
    # Either a pass over nothing completes, or the sampler sees the empty server at once.
    wait_for(
        lambda: not any(name in KEYED for name, _, _ in exporter.metrics().samples),
        timeout=30,
        what="the keys of a flushed server to leave /metrics",
    )
    ratio = exporter.metrics().value("redis_keyspace_pass_progress_ratio", instance="cache")
    assert math.isfinite(ratio) and 0 <= ratio <= 1


def test_a_database_created_after_a_pass_is_sampled_by_the_next(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis("--enable-debug-command", "yes")
    populate(server, 12_000)
    exporter: Exporter = start_exporter("--config.file", fast(tmp_path, server))
    wait_passes(exporter, 1)
    server.client(db=5).rpush("late", *range(3000))
    done = passes(exporter)
    wait_passes(exporter, done + 2)
    assert keys_of(exporter.metrics(), "redis_big_key_elements", "db5").get("late") == 3000


def test_a_big_key_replaced_by_a_small_one_of_the_same_name_is_small_after_a_pass(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis("--enable-debug-command", "yes")
    client = populate(server, 12_000)
    client.set("blob", "z" * 200_000)
    exporter: Exporter = start_exporter("--config.file", fast(tmp_path, server))
    wait_passes(exporter, 1)
    assert keys_of(exporter.metrics(), "redis_big_key_memory_bytes", "db0")["blob"] > 200_000
    client.set("blob", "s")
    done = passes(exporter)
    wait_passes(exporter, done + 2)
    assert keys_of(exporter.metrics(), "redis_big_key_memory_bytes", "db0").get("blob", 0) < 1000


def test_group_estimates_of_a_completed_pass_are_exact_at_odd_budget_boundaries(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis("--enable-debug-command", "yes")
    client = populate(server, 9_973)
    pipe = client.pipeline(transaction=False)
    for i in range(1_237):
        pipe.set(f"sess:{i}", "v", ex=3600)
    pipe.execute()
    db3 = server.client(db=3)
    db3.mset({f"user:{i}": "u" for i in range(311)})
    path = fast(tmp_path, server, keys_per_cycle=997, scan_count=70)
    exporter: Exporter = start_exporter("--config.file", path)
    wait_passes(exporter, 1, timeout=55)
    metrics = exporter.metrics()

    def estimate(db: str, group: str) -> float:
        return metrics.value("redis_key_group_keys_estimated", db=db, key_group=group)

    assert estimate("db0", "key") == 9_973
    assert estimate("db0", "sessions") == 1_237
    assert estimate("db3", "user") == 311
    assert (
        metrics.value("redis_key_group_no_ttl_keys_estimated", db="db0", key_group="sessions") == 0
    )


def test_progress_stays_within_0_and_1_and_no_series_doubles_while_the_keyspace_shrinks(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis("--enable-debug-command", "yes")
    client = populate(server, 60_000)
    client.mset({f"big:{i}": "b" * (1000 + i) for i in range(40)})
    path = fast(tmp_path, server, keys_per_cycle=6000, scan_count=500, top=40)
    exporter: Exporter = start_exporter("--config.file", path)
    ratios: list[float] = []
    deleted = False
    deadline = time.monotonic() + 50
    while passes(exporter) < 2 and time.monotonic() < deadline:
        metrics = exporter.metrics()
        assert duplicates(metrics) == []
        ratio = metrics.get("redis_keyspace_pass_progress_ratio", instance="cache")
        ratios.extend(ratio)
        if not deleted and ratio and ratio[0] >= 0.4:
            # Most keys leave mid-pass: the table shrinks and SCAN may return keys again.
            for start in range(0, 55_000, 5_000):
                client.unlink(*(f"key:{i}" for i in range(start, start + 5_000)))
            deleted = True
        time.sleep(0.2)
    assert deleted and passes(exporter) >= 2
    assert all(0 <= r <= 1 for r in ratios), max(ratios)


def test_a_tiny_budget_on_a_big_keyspace_still_shows_progress(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis("--enable-debug-command", "yes")
    populate(server, 200_000)
    path = fast(tmp_path, server, keys_per_cycle=100, scan_count=10)
    exporter: Exporter = start_exporter("--config.file", path)

    def ratio() -> float:
        return exporter.metrics().value("redis_keyspace_pass_progress_ratio", instance="cache")

    wait_for(lambda: ratio() > 0, timeout=20, what="a first cycle")
    first = ratio()
    wait_for(lambda: ratio() >= first + 0.0009, timeout=20, what="progress to move")
    metrics = exporter.metrics()
    assert metrics.value("redis_keyspace_passes_total", instance="cache") == 0
    estimated = metrics.value("redis_keyspace_pass_estimated_seconds", instance="cache")
    assert 1_500 <= estimated <= 2_500  # 200,000 keys at 100 a one-second cycle


def test_series_stay_within_max_series_with_hashed_names(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis("--enable-debug-command", "yes")
    client = populate(server, 8_000)
    client.mset({f"secretish:{i}": "b" * (500 + i) for i in range(30)})
    path = fast(tmp_path, server, top=20, max_series=12, key_names="hash")
    exporter: Exporter = start_exporter("--config.file", path)
    wait_passes(exporter, 1)
    metrics = exporter.metrics()
    keyed = [labels["key"] for name, labels, _ in metrics.samples if "key" in labels]
    assert keyed and all(key.startswith("sha256:") for key in keyed)
    assert "secretish:" not in metrics.text  # the group (first segment) is by design
    assert len(keyed) <= 12
    assert metrics.value("redis_keyspace_series_dropped_total", instance="cache") > 0
    assert duplicates(metrics) == []


def test_a_reload_mid_pass_keeps_the_reported_keys_on_every_scrape(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis("--enable-debug-command", "yes")
    client = populate(server, 20_000)
    client.set("blob", "z" * 100_000)
    exporter: Exporter = start_exporter("--config.file", fast(tmp_path, server))
    wait_passes(exporter, 1)
    before = passes(exporter)
    exporter.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        metrics = exporter.metrics()
        assert "blob" in keys_of(metrics, "redis_big_key_memory_bytes", "db0")
        assert metrics.value("redis_keyspace_passes_total", instance="cache") >= before
        time.sleep(0.1)


def test_metrics_stay_fast_and_the_slowlog_empty_while_the_sampler_runs(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis(
        "--enable-debug-command", "yes", "--maxmemory-policy", "allkeys-lfu"
    )
    client = populate(server, 150_000)
    client.rpush("biglist", *range(100_000))
    client.config_set("slowlog-log-slower-than", 10_000)  # 10 ms
    client.slowlog_reset()
    path = fast(
        tmp_path, server, keys_per_cycle=50_000, scan_count=1000, commands_per_second=1_000_000
    )
    exporter: Exporter = start_exporter("--config.file", path)
    slowest = 0.0
    deadline = time.monotonic() + 30
    while passes(exporter) < 1 and time.monotonic() < deadline:
        started = time.monotonic()
        exporter.metrics()
        slowest = max(slowest, time.monotonic() - started)
    assert passes(exporter) >= 1
    assert slowest < 1.0  # a scrape takes milliseconds; a sampler on the scrape path, seconds
    # A command whose cost does not grow with the value can only be slow when the machine
    # starves the server of CPU (CI on two loaded cores); anything else, a sampler's fault.
    slow = [entry["command"] for entry in client.slowlog_get(128)]
    assert [command for command in slow if not _bounded_cost(command)] == []


def _bounded_cost(command: bytes) -> bool:
    """O(1) or bounded: TYPE, PTTL, OBJECT, INFO, MEMORY USAGE SAMPLES 5, SCAN COUNT 1000."""
    words = command.upper().split()
    if words[:1] in ([b"TYPE"], [b"TTL"], [b"PTTL"], [b"OBJECT"], [b"INFO"], [b"SELECT"]):
        return True
    if words[:1] == [b"XINFO"]:
        return b"FULL" not in words
    if words[:2] == [b"MEMORY", b"USAGE"]:
        return b"SAMPLES" in words and 0 < int(words[words.index(b"SAMPLES") + 1]) <= 5
    if words[:1] == [b"SCAN"] and b"COUNT" in words:
        return int(words[words.index(b"COUNT") + 1]) <= 1000
    return False


def test_switching_to_hashed_names_by_reload_hides_plain_names_at_once(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis("--enable-debug-command", "yes")
    client = populate(server, 12_000)
    client.set("customer:alice@example.com", "z" * 100_000)
    path = fast(tmp_path, server)
    exporter: Exporter = start_exporter("--config.file", path)
    wait_passes(exporter, 1)
    assert "alice@example.com" in exporter.metrics().text
    fast(tmp_path, server, key_names="hash", top=1)  # rewrites the same file
    exporter.proc.send_signal(signal.SIGHUP)
    time.sleep(1)  # the reload itself takes milliseconds
    metrics = exporter.metrics()
    assert "alice@example.com" not in metrics.text
    assert len(keys_of(metrics, "redis_big_key_memory_bytes", "db0")) <= 1


def test_odd_and_binary_key_names_give_distinct_parsable_series(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis()
    client = server.client()
    names = [
        b"\xff\xfe1",
        b"\xfe\xff1",
        b"\xff1",
        b"\xfe1",
        b'q"uote',
        b"new\nline",
        b"back\\slash",
    ]
    for i, name in enumerate(names):
        client.set(name, "z" * (5000 + i))
    exporter: Exporter = start_exporter("--config.file", fast(tmp_path, server, top=10))
    wait_passes(exporter, 1)
    metrics = exporter.metrics()  # parses every line
    assert duplicates(metrics) == []
    assert len(keys_of(metrics, "redis_big_key_memory_bytes", "db0")) == len(names)


def test_keys_expiring_mid_pass_leave_no_type_none_series(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis()
    client = server.client()
    pipe = client.pipeline(transaction=False)
    for i in range(20_000):
        pipe.set(f"tmp:{i}", "v" * (i % 300), px=300 + (i * 7) % 3000)
    pipe.execute()
    exporter: Exporter = start_exporter("--config.file", fast(tmp_path, server, top=10))
    deadline = time.monotonic() + 12
    while time.monotonic() < deadline:
        metrics = exporter.metrics()
        assert [labels for _, labels, _ in metrics.samples if labels.get("type") == "none"] == []
        assert duplicates(metrics) == []
        time.sleep(0.2)


def test_progress_only_moves_forward_within_a_pass_while_keys_are_added(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    server: RedisServer = start_redis("--enable-debug-command", "yes")
    client = populate(server, 30_000)
    exporter: Exporter = start_exporter("--config.file", fast(tmp_path, server, interval="5s"))

    def progress() -> tuple[float, float]:
        metrics = exporter.metrics()
        cycle = metrics.value("redis_keyspace_sample_commands_total", instance="cache")
        return cycle, metrics.value("redis_keyspace_pass_progress_ratio", instance="cache")

    wait_for(lambda: progress()[1] > 0, timeout=20, what="a first cycle")
    cycle, before = progress()
    client.mset({f"new:{i}": "n" for i in range(3_000)})  # the cache grows by 10%
    same_cycle, after = progress()
    assert same_cycle == cycle  # no cycle ran in between: the pass did not move
    assert after >= before, (before, after)
