"""Managed-service restrictions, reproduced on every server of the matrix.

ElastiCache, Memorystore and Azure Cache rename or forbid CONFIG, LATENCY and
SLOWLOG, and hand out ACL users that may only run INFO. cachescope must export
everything it still can, say once what it cannot, and never call the target down.
"""

from __future__ import annotations

from pathlib import Path

import logfmt
import redis
from matrix import ServerBinary
from servers import Exporter, Exposition, RedisServer, StartExporter, StartRedis

PASSWORD = "v1ewer-Pa55word-k8"
CAPABILITY = {
    "CONFIG": "config",
    "LATENCY": "latency",
    "SLOWLOG": "slowlog",
    "CLIENT": "client_setname",
    "COMMANDLOG": "commandlog",
}
# What only the commands an INFO-only user may not run give; everything else must be there.
NOT_FROM_INFO = {
    "redis_config_io_threads",
    "redis_slowlog_length",
    "redis_slowlog_last_id",
    "redis_last_slow_execution_duration_seconds",
    "redis_latency_spike_last",
    "redis_latency_spike_duration_seconds",
    "redis_commandlog_slow_length",
    "redis_commandlog_large_request_length",
    "redis_commandlog_large_reply_length",
    "redis_commands_latencies_usec_bucket",  # LATENCY HISTOGRAM
    "redis_commands_latencies_usec_sum",
    "redis_commands_latencies_usec_count",
    "cachescope_command_latencies_left_out",
}


def families(metrics: Exposition, instance: str) -> set[str]:
    return {s for s, labels, _ in metrics.samples if labels.get("instance") == instance}


def capabilities(metrics: Exposition, instance: str) -> dict[str, float]:
    return {
        labels["capability"]: value
        for sample, labels, value in metrics.samples
        if sample == "cachescope_target_capability" and labels.get("instance") == instance
    }


def watchers(servers: dict[str, RedisServer]) -> dict[str, redis.Redis]:
    """One open connection per server: the CLIENT SETINFO that redis-py sends when it
    connects (an error before Redis 7.2) is counted now, before the first reading."""
    clients = {target: server.client() for target, server in servers.items()}
    for client in clients.values():
        client.ping()
    return clients


def error_replies(clients: dict[str, redis.Redis]) -> dict[str, int]:
    return {t: int(c.info("stats")["total_error_replies"]) for t, c in clients.items()}


def drop_exporter_connections(admin: redis.Redis) -> None:
    """Close the exporter's connections, as a failover or an idle timeout would."""
    for client in admin.client_list():
        if client["name"] == "cachescope" or client["user"] == "viewer":
            admin.client_kill_filter(_id=client["id"])


def start(any_redis: StartRedis, start_exporter: StartExporter, tmp_path: Path) -> tuple:  # type: ignore[type-arg]
    servers = {
        "no-config": any_redis("--rename-command", "CONFIG", "", "--maxmemory", "64mb"),
        "no-latency": any_redis("--rename-command", "LATENCY", ""),
        "no-slowlog": any_redis("--rename-command", "SLOWLOG", ""),
        "info-only": any_redis(),
    }
    servers["info-only"].client().execute_command(
        "ACL", "SETUSER", "viewer", "on", f">{PASSWORD}", "+info", "+ping"
    )
    lines = ["targets:"]
    for target, server in servers.items():
        lines += [f"  - uri: {server.uri}", f"    name: {target}"]
    lines += ["    username: viewer", f"    password: {PASSWORD}"]  # the info-only target
    lines += [f"  - uri: {servers['info-only'].uri}", "    name: full-view"]
    config = tmp_path / "cachescope.yml"
    config.write_text("\n".join(lines) + "\n")
    return servers, start_exporter("--config.file", str(config))


def expected_refusals(binary: ServerBinary) -> dict[str, set[str]]:
    info_only = {"CLIENT", "CONFIG", "SLOWLOG", "LATENCY"}
    if binary.has_commandlog:
        info_only.add("COMMANDLOG")
    return {
        "no-config": {"CONFIG"},
        "no-latency": {"LATENCY"},
        "no-slowlog": {"SLOWLOG"},
        "info-only": info_only,
    }


def check_scrape(exporter: Exporter, binary: ServerBinary) -> Exposition:
    metrics = exporter.metrics()
    for target, refused in expected_refusals(binary).items():
        assert metrics.value("redis_up", instance=target) == 1, target
        assert not any(metrics.get("cachescope_scrape_errors_total", instance=target)), target
        assert metrics.value("redis_memory_used_bytes", instance=target) > 0
        have = capabilities(metrics, target)
        missing = {CAPABILITY[command] for command in refused}
        if "LATENCY" in refused and binary.has_latency_histogram:
            missing.add("latency_histogram")  # LATENCY HISTOGRAM goes with LATENCY
        assert {c for c, value in have.items() if value == 0} == missing, target
        assert {value for c, value in have.items() if c not in missing} <= {1.0}, target
    return metrics


def test_restricted_servers_export_all_they_can_and_cost_one_error_per_missing_command(
    redis_binary: ServerBinary,
    any_redis: StartRedis,
    start_exporter: StartExporter,
    tmp_path: Path,
) -> None:
    servers, exporter = start(any_redis, start_exporter, tmp_path)
    refusals = expected_refusals(redis_binary)
    watch = watchers(servers)
    before = error_replies(watch)

    metrics = check_scrape(exporter, redis_binary)
    first = error_replies(watch)
    # Detection costs each server one error reply per command it lacks, once per connection.
    assert {t: first[t] - before[t] for t in servers} == {t: len(r) for t, r in refusals.items()}

    assert metrics.value("redis_config_maxmemory", instance="no-config") == 64 * 1024 * 1024
    assert metrics.get("redis_config_io_threads", instance="no-config") == []  # CONFIG only
    assert metrics.value("redis_slowlog_length", instance="no-config") >= 0
    assert metrics.value("redis_slowlog_length", instance="no-latency") >= 0
    assert metrics.get("redis_slowlog_length", instance="no-slowlog") == []
    assert metrics.value("redis_config_io_threads", instance="no-slowlog") >= 1

    for _ in range(20):
        check_scrape(exporter, redis_binary)
    assert error_replies(watch) == first  # nothing on later scrapes

    for client in watch.values():
        drop_exporter_connections(client)
    check_scrape(exporter, redis_binary)
    again = error_replies(watch)
    assert {t: again[t] - first[t] for t in servers} == {t: len(r) for t, r in refusals.items()}

    log = exporter.log()
    for target, refused in refusals.items():
        for command in refused:  # once per target, not once per connection or scrape
            refusals_logged = [
                entry
                for entry in map(logfmt.parse, log.splitlines())
                if entry.get("target") == target and entry.get("command") == command
            ]
            assert len(refusals_logged) == 1, (target, command)


def test_info_only_acl_user_yields_every_info_metric(
    redis_binary: ServerBinary,
    any_redis: StartRedis,
    start_exporter: StartExporter,
    tmp_path: Path,
) -> None:
    servers, exporter = start(any_redis, start_exporter, tmp_path)
    exporter.metrics()
    metrics = exporter.metrics()
    limited, full = families(metrics, "info-only"), families(metrics, "full-view")
    assert full - limited <= NOT_FROM_INFO, sorted(full - limited - NOT_FROM_INFO)
    assert len(limited) > 100
    for metric in ("redis_config_maxmemory", "redis_config_maxclients", "redis_instance_info"):
        assert metric in limited
    assert metrics.value("redis_db_keys", instance="info-only", db="db0") == 0
    assert metrics.value("redis_up", instance="info-only") == 1
