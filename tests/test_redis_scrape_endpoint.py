"""/scrape?target= (the multi-target pattern), the small endpoints, and config errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from servers import (
    Exporter,
    Exposition,
    Listener,
    RedisServer,
    StartExporter,
    StartRedis,
    free_port,
)


def scrape(exporter: Exporter, target: str) -> tuple[int, str]:
    return exporter.get("/scrape?target=" + quote(target, safe=""))


def test_configured_target_by_name_has_no_instance_label(
    redis_server: RedisServer, start_exporter: StartExporter, tmp_path: Path
) -> None:
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"targets:\n  - uri: {redis_server.uri}\n    name: sessions\n"
        "    labels: {team: payments}\n"
    )
    exporter = start_exporter("--config.file", str(config))
    status, body = scrape(exporter, "sessions")
    assert status == 200, body
    metrics = Exposition(body)
    assert metrics.value("redis_up") == 1
    assert metrics.value("redis_memory_used_bytes", team="payments") > 0
    assert "instance=" not in body  # Prometheus' own instance label identifies the target
    assert not any(name.startswith("cachescope_build_info") for name in metrics.names())


@pytest.mark.parametrize("spelling", ["redis://127.0.0.1:{port}", "127.0.0.1:{port}"])
def test_configured_target_by_uri_uses_its_configured_password(
    start_redis: StartRedis, start_exporter: StartExporter, tmp_path: Path, spelling: str
) -> None:
    server = start_redis(password="from-config-pw-31")
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"targets:\n  - uri: {server.uri}\n    name: cache\n    password: from-config-pw-31\n"
    )
    exporter = start_exporter("--config.file", str(config))
    status, body = scrape(exporter, spelling.format(port=server.port))
    assert status == 200, body
    assert Exposition(body).value("redis_up") == 1
    assert "instance=" not in body


def test_scrape_output_is_only_the_requested_target(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    first, second = start_redis(), start_redis()
    second.client().set("only-in-second", "1")
    exporter = start_exporter("--target", first.uri, "--target", second.uri)
    metrics = Exposition(scrape(exporter, second.uri)[1])
    assert metrics.get("redis_up") == [1.0]
    assert metrics.value("redis_db_keys", db="db0") == 1
    assert metrics.value("redis_instance_info", tcp_port=str(second.port)) == 1


def test_unlisted_target_gets_400_and_no_connection(
    redis_server: RedisServer, start_exporter: StartExporter, listener: Listener
) -> None:
    exporter = start_exporter("--target", redis_server.uri)
    for target in (
        f"redis://127.0.0.1:{listener.port}",
        f"127.0.0.1:{listener.port}",
        f"rediss://127.0.0.1:{listener.port}",
        f"redis://localhost:{listener.port}",
    ):
        status, body = scrape(exporter, target)
        assert status == 400, (target, body)
        assert "not in the config" in body
    assert listener.accepted() == 0


def test_target_matching_scrape_allow_is_scraped(
    redis_server: RedisServer, start_exporter: StartExporter, listener: Listener
) -> None:
    exporter = start_exporter("--scrape.allow", "redis://127.0.0.1:*", "--timeout", "1s")
    status, body = scrape(exporter, redis_server.uri)
    assert status == 200, body
    assert Exposition(body).value("redis_up") == 1
    # The pattern is matched as written: a name that resolves to 127.0.0.1 is not 127.0.0.1.
    status, _ = scrape(exporter, f"redis://localhost:{listener.port}")
    assert status == 400
    assert listener.accepted() == 0
    # The same port spelled as the pattern allows is reached: the listener does see connections.
    status, body = scrape(exporter, f"redis://127.0.0.1:{listener.port}")
    assert status == 200 and Exposition(body).value("redis_up") == 0
    assert listener.accepted() == 1


def test_scrape_allow_rule_with_credentials_from_config(
    start_redis: StartRedis, start_exporter: StartExporter, tmp_path: Path
) -> None:
    server = start_redis(password="allow-rule-pw-58")
    config = tmp_path / "cachescope.yml"
    config.write_text(
        'scrape:\n  allow:\n    - pattern: "redis://127.0.0.0/8:*"\n'
        "      password: allow-rule-pw-58\n"
    )
    exporter = start_exporter("--config.file", str(config))
    status, body = scrape(exporter, server.uri)
    assert status == 200, body
    assert Exposition(body).value("redis_up") == 1
    assert "allow-rule-pw-58" not in body + exporter.log() + exporter.get("/")[1]


def test_allowed_target_that_is_down_is_up_zero_not_an_http_error(
    start_exporter: StartExporter,
) -> None:
    exporter = start_exporter("--scrape.allow", "redis://127.0.0.1:*")
    status, body = scrape(exporter, f"redis://127.0.0.1:{free_port()}")  # nothing listens there
    assert status == 200
    metrics = Exposition(body)
    assert metrics.value("redis_up") == 0
    assert metrics.value("cachescope_scrape_errors_total", error="connect") == 1


@pytest.mark.parametrize("userinfo", [":url-pw-4411@", "admin:url-pw-4411@", "admin@"])
def test_credentials_in_the_target_url_are_rejected(
    redis_server: RedisServer, start_exporter: StartExporter, listener: Listener, userinfo: str
) -> None:
    exporter = start_exporter("--target", redis_server.uri, "--scrape.allow", "redis://127.0.0.1:*")
    for port in (listener.port, redis_server.port):  # unlisted and configured alike
        status, body = scrape(exporter, f"redis://{userinfo}127.0.0.1:{port}")
        assert status == 400, body
        assert "credentials" in body
        assert "url-pw-4411" not in body
    assert listener.accepted() == 0
    assert "url-pw-4411" not in exporter.log()


@pytest.mark.parametrize("query", ["", "?target=", "?other=x", "?target=a&target=b"])
def test_scrape_without_exactly_one_target_is_400(
    redis_server: RedisServer, start_exporter: StartExporter, query: str
) -> None:
    exporter = start_exporter("--target", redis_server.uri)
    status, body = exporter.get("/scrape" + query)
    assert status == 400
    assert "target" in body


def test_unparsable_target_is_400(redis_server: RedisServer, start_exporter: StartExporter) -> None:
    exporter = start_exporter("--target", redis_server.uri, "--scrape.allow", "redis://127.0.0.1:*")
    for target in ("http://127.0.0.1:80", "redis://127.0.0.1:notaport", "redis://127.0.0.1:6379/x"):
        assert scrape(exporter, target)[0] == 400, target


def test_health_ready_and_landing_page_answer_200(
    redis_server: RedisServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter("--target", redis_server.uri)
    assert exporter.get("/-/healthy") == (200, "Healthy\n")
    assert exporter.get("/-/ready") == (200, "Ready\n")
    status, page = exporter.get("/")
    assert status == 200
    assert 'href="/metrics"' in page and "/scrape?target=" in page
    assert f"127.0.0.1:{redis_server.port}" in page
    assert exporter.get("/nope")[0] == 404


def test_metrics_carries_exporter_self_metrics(
    redis_server: RedisServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter("--target", redis_server.uri)
    metrics = exporter.metrics()
    assert metrics.value("cachescope_targets") == 1
    assert len(metrics.get("cachescope_build_info")) == 1
    assert (
        metrics.value(
            "cachescope_scrape_duration_seconds", instance=f"127.0.0.1:{redis_server.port}"
        )
        < 2
    )
    assert "process_cpu_seconds_total" in metrics.names()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cachescope", *args], capture_output=True, text=True, timeout=20
    )


BAD_CONFIGS = {
    "bad duration": (
        "targets:\n  - uri: redis://127.0.0.1:6379\n    timeout: fast\n",
        3,
        "targets[0].timeout",
    ),
    "unknown field": (
        "targets:\n  - uri: redis://127.0.0.1:6379\n  - uri: redis://127.0.0.1:6380\n"
        "    pasword: x\n",
        4,
        "targets[1].pasword",
    ),
    "bad uri": (
        "defaults:\n  timeout: 2s\ntargets:\n  - uri: http://127.0.0.1:6379\n",
        4,
        "targets[0].uri",
    ),
    "missing uri": ("targets:\n  - name: cache\n", 2, "targets[0]"),
    "bad pattern": (
        'scrape:\n  allow:\n    - pattern: "redis://10.0.0.0/33:*"\n',
        3,
        "scrape.allow[0].pattern",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_file_names_file_line_and_field(tmp_path: Path, case: str) -> None:
    text, line, field = BAD_CONFIGS[case]
    bad = tmp_path / "bad.yml"
    bad.write_text(text)
    for result in (
        run_cli("serve", "--web.listen-address", "127.0.0.1:0", "--config.file", str(bad)),
        run_cli("check-config", str(bad)),
    ):
        assert result.returncode != 0
        assert f"bad.yml:{line}:" in result.stderr, result.stderr
        assert field in result.stderr, result.stderr


def test_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("targets:\n  - uri: redis://127.0.0.1:6379\n    labels: {team: [\n")
    result = run_cli("check-config", str(bad))
    assert result.returncode == 1
    assert "bad.yml:" in result.stderr and "YAML" in result.stderr


def test_check_config_accepts_a_good_file(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(
        "targets:\n  - uri: redis://127.0.0.1:6379\n    name: cache-a\n"
        '  - redis://127.0.0.1:6380\nscrape:\n  allow:\n    - pattern: "redis://10.0.0.0/8:*"\n'
    )
    result = run_cli("check-config", str(good))
    assert result.returncode == 0, result.stderr
    assert "cache-a" in result.stdout and "2 targets, 1 allow rules: OK" in result.stdout
