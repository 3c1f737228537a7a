"""A target that fails costs only its own series: down, hung, and CONFIG disabled or renamed."""

from __future__ import annotations

import time
from pathlib import Path

from servers import Exposition, RedisServer, StartExporter, StartRedis, free_port


def name(server: RedisServer) -> str:
    return f"127.0.0.1:{server.port}"


def scrape_errors(metrics: Exposition, instance: str) -> dict[str, float]:
    return metrics.scrape_errors(instance)


def test_down_target_is_up_zero_and_the_others_are_still_served(
    redis_server: RedisServer, start_exporter: StartExporter
) -> None:
    down = f"127.0.0.1:{free_port()}"  # nothing listens here
    exporter = start_exporter("--target", f"redis://{down}", "--target", redis_server.uri)
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance=down) == 0
    assert scrape_errors(metrics, down) == {"connect": 1}
    assert metrics.get("redis_memory_used_bytes", instance=down) == []
    assert metrics.value("redis_up", instance=name(redis_server)) == 1
    assert metrics.value("redis_memory_used_bytes", instance=name(redis_server)) > 0
    assert scrape_errors(metrics, name(redis_server)) == {}
    assert f"target={down}" in exporter.log() and "error=connect" in exporter.log()


def test_target_that_comes_back_is_up_again(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis()
    exporter = start_exporter("--target", server.uri)
    assert exporter.metrics().value("redis_up", instance=name(server)) == 1
    server.stop()
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance=name(server)) == 0
    failed = scrape_errors(metrics, name(server))
    assert failed == {"connect": 1}
    server.restart()  # a new process on the same port
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance=name(server)) == 1
    assert metrics.value("redis_uptime_in_seconds", instance=name(server)) < 5
    assert scrape_errors(metrics, name(server)) == failed  # no further failure after the restart


def test_hung_target_times_out_without_delaying_the_healthy_one(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    hung, healthy = start_redis(), start_redis()
    exporter = start_exporter("--target", hung.uri, "--target", healthy.uri, "--timeout", "1s")
    assert exporter.metrics().value("redis_up", instance=name(hung)) == 1  # connection established
    hung.pause()  # SIGSTOP: the kernel still accepts bytes, nobody answers
    for scrape in (1, 2):  # a second scrape must not queue behind the first one's stuck connection
        start = time.monotonic()
        metrics = exporter.metrics()
        elapsed = time.monotonic() - start
        assert elapsed < 3, f"/metrics took {elapsed:.1f}s with a 1s timeout"
        assert metrics.value("redis_up", instance=name(hung)) == 0
        assert metrics.value("redis_up", instance=name(healthy)) == 1
        assert scrape_errors(metrics, name(hung)) == {"timeout": scrape}
    hung.resume()
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance=name(hung)) == 1  # reconnected
    assert metrics.value("redis_memory_used_bytes", instance=name(hung)) > 0


def test_hung_target_before_first_connection_times_out(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    hung = start_redis()
    hung.pause()
    start = time.monotonic()
    exporter = start_exporter("--target", hung.uri, "--timeout", "1s")
    metrics = exporter.metrics()
    assert time.monotonic() - start < 5
    assert metrics.value("redis_up", instance=name(hung)) == 0
    assert scrape_errors(metrics, name(hung)) == {"timeout": 1}
    hung.resume()
    assert exporter.metrics().value("redis_up", instance=name(hung)) == 1


def test_config_disabled_server_still_exports_everything_else(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis("--rename-command", "CONFIG", "", "--maxmemory", "64mb")
    server.client().set("k", "v")
    maxclients = server.client().info("clients")["maxclients"]  # lowered by a small ulimit -n
    exporter = start_exporter("--target", server.uri)
    for _ in range(2):  # the first scrape meets the refusal, the second no longer asks
        metrics = exporter.metrics()
        assert metrics.value("redis_up", instance=name(server)) == 1
        assert metrics.value("redis_memory_used_bytes", instance=name(server)) > 0
        assert metrics.value("redis_config_maxmemory", instance=name(server)) == 64 * 1024 * 1024
        assert metrics.value("redis_config_maxclients", instance=name(server)) == maxclients
        assert metrics.value("redis_db_keys", instance=name(server), db="db0") == 1
        assert metrics.value("redis_slowlog_length", instance=name(server)) >= 0
        # io-threads is not in INFO: only CONFIG knows it.
        assert metrics.get("redis_config_io_threads", instance=name(server)) == []
        assert scrape_errors(metrics, name(server)) == {}
    assert "command=CONFIG" in exporter.log() and 'msg="command refused;' in exporter.log()


def test_renamed_config_command_is_used_when_configured(
    start_redis: StartRedis, start_exporter: StartExporter, tmp_path: Path
) -> None:
    server = start_redis("--rename-command", "CONFIG", "MYCONFIG", "--io-threads", "2")
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"targets:\n  - uri: {server.uri}\n    name: cache\n    config_command: MYCONFIG\n"
    )
    exporter = start_exporter("--config.file", str(config))
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance="cache") == 1
    assert metrics.value("redis_config_io_threads", instance="cache") == 2
    maxclients = server.client().info("clients")["maxclients"]  # lowered by a small ulimit -n
    assert metrics.value("redis_config_maxclients", instance="cache") == maxclients
    assert "refused" not in exporter.log()


def test_refused_config_stops_growing_the_servers_error_count(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis("--rename-command", "CONFIG", "")
    observer = server.client()
    before = observer.info("stats")["total_error_replies"]  # our own connection is made now
    exporter = start_exporter("--target", server.uri)
    exporter.metrics()
    after_first = observer.info("stats")["total_error_replies"]
    for _ in range(10):
        assert exporter.metrics().value("redis_up", instance=name(server)) == 1
    assert observer.info("stats")["total_error_replies"] == after_first
    assert after_first > before  # the refusal itself was seen, so this test can tell


def test_config_disabled_server_sees_at_most_one_error_reply_per_connection(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis("--rename-command", "CONFIG", "")
    observer = server.client()
    before = observer.info("stats")["total_error_replies"]
    exporter = start_exporter("--target", server.uri)
    for _ in range(10):
        assert exporter.metrics().value("redis_up", instance=name(server)) == 1
    clients = [c for c in observer.client_list() if c["name"] == "cachescope"]
    assert len(clients) == 1  # one persistent connection for all ten scrapes
    grown = observer.info("stats")["total_error_replies"] - before
    assert grown <= 1, f"{grown} error replies on one connection; a refused command should cost one"


def test_connection_closed_by_the_server_does_not_cost_a_scrape(
    redis_server: RedisServer, start_exporter: StartExporter
) -> None:
    """Redis `timeout`, CLIENT KILL, proxies and failovers close idle connections."""
    exporter = start_exporter("--target", redis_server.uri)
    assert exporter.metrics().value("redis_up", instance=name(redis_server)) == 1
    admin = redis_server.client()
    for client in admin.client_list():
        if client["name"] == "cachescope":
            admin.client_kill_filter(_id=client["id"])
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance=name(redis_server)) == 1
    assert scrape_errors(metrics, name(redis_server)) == {}
