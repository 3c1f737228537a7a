"""Logging in to Redis: requirepass from every source, ACL users, and secrets that stay secret."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from servers import Exporter, Exposition, RedisServer, StartExporter, StartRedis

PASSWORD = "s3cret-Pa55word-x7"  # distinctive, so a leak anywhere is found by substring
WRONG = "wr0ng-Pa55word-q9"


def instance(server: RedisServer) -> str:
    return f"127.0.0.1:{server.port}"


def assert_nowhere(exporter: Exporter, *secrets: str) -> None:
    """No secret in /metrics, /scrape, the landing page or the exporter's log."""
    pages = {path: exporter.get(path)[1] for path in ("/metrics", "/")}
    for name in {
        labels["instance"]
        for _, labels, _ in Exposition(pages["/metrics"]).samples
        if "instance" in labels
    }:
        status, pages[f"/scrape?target={name}"] = exporter.get(f"/scrape?target={name}")
        assert status == 200
    pages["log"] = exporter.log()
    assert len(pages) >= 4
    for where, text in pages.items():
        for secret in secrets:
            assert secret not in text, f"password leaked into {where}"


def test_requirepass_with_password_in_config_file(
    start_redis: StartRedis, start_exporter: StartExporter, tmp_path: Path
) -> None:
    server = start_redis(password=PASSWORD)
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"targets:\n  - uri: {server.uri}\n    name: cache\n    password: {PASSWORD}\n"
    )
    exporter = start_exporter("--config.file", str(config))
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance="cache") == 1
    assert metrics.value("redis_memory_used_bytes", instance="cache") > 0
    assert_nowhere(exporter, PASSWORD)


def test_requirepass_with_password_file_in_config_file(
    start_redis: StartRedis, start_exporter: StartExporter, tmp_path: Path
) -> None:
    server = start_redis(password=PASSWORD)
    secret = tmp_path / "redis-password"
    secret.write_text(PASSWORD + "\n")  # the trailing newline editors add must not count
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"targets:\n  - uri: {server.uri}\n    name: cache\n    password_file: {secret}\n"
    )
    exporter = start_exporter("--config.file", str(config))
    assert exporter.metrics().value("redis_up", instance="cache") == 1
    assert_nowhere(exporter, PASSWORD)


def test_requirepass_with_password_env_in_config_file(
    start_redis: StartRedis, start_exporter: StartExporter, tmp_path: Path
) -> None:
    server = start_redis(password=PASSWORD)
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"targets:\n  - uri: {server.uri}\n    name: cache\n    password_env: CACHE_PW\n"
    )
    exporter = start_exporter("--config.file", str(config), env={"CACHE_PW": PASSWORD})
    assert exporter.metrics().value("redis_up", instance="cache") == 1


def test_requirepass_with_redis_password_file_flag(
    start_redis: StartRedis, start_exporter: StartExporter, tmp_path: Path
) -> None:
    server = start_redis(password=PASSWORD)
    secret = tmp_path / "redis-password"
    secret.write_text(PASSWORD)
    exporter = start_exporter("--target", server.uri, "--redis.password-file", str(secret))
    assert exporter.metrics().value("redis_up", instance=instance(server)) == 1


def test_requirepass_with_cachescope_redis_password_env(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis(password=PASSWORD)
    exporter = start_exporter(
        "--target", server.uri, "--log.level", "debug", env={"CACHESCOPE_REDIS_PASSWORD": PASSWORD}
    )
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance=instance(server)) == 1
    assert metrics.value("redis_connected_clients", instance=instance(server)) >= 1
    assert_nowhere(exporter, PASSWORD)


def test_password_in_uri_userinfo_logs_in_and_is_treated_as_a_secret(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis(password=PASSWORD)
    exporter = start_exporter(
        "--target", f"redis://:{PASSWORD}@127.0.0.1:{server.port}", "--log.level", "debug"
    )
    metrics = exporter.metrics()
    # The target is named by its address, never by the URI it was given as.
    assert metrics.value("redis_up", instance=instance(server)) == 1
    _, landing = exporter.get("/")
    assert f"127.0.0.1:{server.port}" in landing
    assert_nowhere(exporter, PASSWORD)


def test_acl_user_with_least_privilege_exports_everything(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis()
    admin = server.client()
    admin.execute_command(
        "ACL",
        "SETUSER",
        "exporter",
        "on",
        f">{PASSWORD}",
        "+info",
        "+config|get",
        "+slowlog",
        "+latency",
        "+client|setname",
        "+ping",
    )
    admin.execute_command("ACL", "SETUSER", "default", "off")  # only the exporter user may log in
    exporter = start_exporter(
        "--target",
        server.uri,
        "--redis.user",
        "exporter",
        env={"CACHESCOPE_REDIS_PASSWORD": PASSWORD},
    )
    metrics = exporter.metrics()
    name = instance(server)
    assert metrics.value("redis_up", instance=name) == 1
    assert metrics.value("redis_config_io_threads", instance=name) >= 1  # CONFIG GET only, not INFO
    assert metrics.value("redis_slowlog_length", instance=name) >= 0
    ours = [c for c in admin.client_list() if c["name"] == "cachescope"]
    assert [c["user"] for c in ours] == ["exporter"]
    assert not any(metrics.get("cachescope_scrape_errors_total", instance=name))
    assert_nowhere(exporter, PASSWORD)


def test_acl_user_with_only_info_still_reports_up(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis()
    server.client().execute_command("ACL", "SETUSER", "viewer", "on", f">{PASSWORD}", "+info")
    exporter = start_exporter(
        "--target",
        server.uri,
        "--redis.user",
        "viewer",
        env={"CACHESCOPE_REDIS_PASSWORD": PASSWORD},
    )
    for _ in range(3):
        metrics = exporter.metrics()
        assert metrics.value("redis_up", instance=instance(server)) == 1
        assert metrics.value("redis_memory_used_bytes", instance=instance(server)) > 0
        assert metrics.value("redis_config_maxmemory", instance=instance(server)) == 0  # from INFO


def test_wrong_password_gives_up_zero_and_an_auth_error(
    start_redis: StartRedis, start_exporter: StartExporter, tmp_path: Path
) -> None:
    server = start_redis(password=PASSWORD)
    config = tmp_path / "cachescope.yml"
    config.write_text(f"targets:\n  - uri: {server.uri}\n    name: cache\n    password: {WRONG}\n")
    exporter = start_exporter("--config.file", str(config), "--log.level", "debug")
    exporter.metrics()
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance="cache") == 0
    assert metrics.value("cachescope_scrape_errors_total", instance="cache", error="auth") == 2
    assert metrics.get("redis_memory_used_bytes", instance="cache") == []
    assert "error=auth" in exporter.log()
    assert_nowhere(exporter, WRONG, PASSWORD)


def test_wrong_acl_user_password_in_uri_never_leaks(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis()
    server.client().execute_command("ACL", "SETUSER", "exporter", "on", f">{PASSWORD}", "+@all")
    exporter = start_exporter(
        "--target", f"redis://exporter:{WRONG}@127.0.0.1:{server.port}", "--log.level", "debug"
    )
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance=instance(server)) == 0
    assert (
        metrics.value("cachescope_scrape_errors_total", instance=instance(server), error="auth")
        == 1
    )
    assert_nowhere(exporter, WRONG, PASSWORD)


def test_unparsable_uri_with_password_is_refused_without_echoing_it() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cachescope",
            "serve",
            "--web.listen-address",
            "127.0.0.1:0",
            "--target",
            f"redis://:{PASSWORD}@127.0.0.1:99999",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode != 0
    assert "99999" in result.stderr or "port" in result.stderr.lower()
    assert PASSWORD not in result.stdout + result.stderr


def test_check_config_lists_targets_without_their_passwords(tmp_path: Path) -> None:
    config = tmp_path / "cachescope.yml"
    config.write_text(
        "targets:\n"
        f"  - uri: redis://admin:{PASSWORD}@127.0.0.1:6390\n"
        "    name: uri-secret\n"
        "  - uri: redis://127.0.0.1:6391\n"
        f"    password: {WRONG}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "cachescope", "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 0, result.stderr
    assert "uri-secret" in result.stdout and "2 targets" in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    assert WRONG not in result.stdout + result.stderr
