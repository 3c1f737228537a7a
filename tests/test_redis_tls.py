"""TLS to Redis with certificates made at test time: verification on by default."""

from __future__ import annotations

from pathlib import Path

from servers import Exporter, Exposition, RedisServer, StartExporter, StartRedis


def tls_exporter(
    start_exporter: StartExporter, tmp_path: Path, server: RedisServer, tls: str
) -> Exporter:
    """An exporter with one target named `cache` and the given `tls:` mapping (flow style)."""
    config = tmp_path / "cachescope.yml"
    config.write_text(f"targets:\n  - uri: {server.uri}\n    name: cache\n    tls: {tls}\n")
    return start_exporter("--config.file", str(config), "--timeout", "2s")


def scrape_errors(metrics: Exposition) -> dict[str, float]:
    return metrics.scrape_errors("cache")


def test_rediss_target_with_ca_file_is_up(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    tls_certs: dict[str, str],
    tmp_path: Path,
) -> None:
    server = start_redis(tls=tls_certs)
    server.client().set("tls:key", "1")
    exporter = tls_exporter(start_exporter, tmp_path, server, f"{{ca_file: {tls_certs['ca']}}}")
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance="cache") == 1
    assert metrics.value("redis_db_keys", instance="cache", db="db0") == 1
    assert scrape_errors(metrics) == {}


def test_rediss_target_without_the_ca_fails_verification_with_tls_error(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    tls_certs: dict[str, str],
    tmp_path: Path,
) -> None:
    server = start_redis(tls=tls_certs)
    exporter = start_exporter("--target", server.uri)  # system CAs only: ours is unknown
    metrics = exporter.metrics()
    name = f"127.0.0.1:{server.port}"
    assert metrics.value("redis_up", instance=name) == 0
    assert metrics.value("cachescope_scrape_errors_total", instance=name, error="tls") == 1
    assert "error=tls" in exporter.log()


def test_insecure_skip_verify_connects_without_the_ca(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    tls_certs: dict[str, str],
    tmp_path: Path,
) -> None:
    server = start_redis(tls=tls_certs)
    exporter = tls_exporter(start_exporter, tmp_path, server, "{insecure_skip_verify: true}")
    assert exporter.metrics().value("redis_up", instance="cache") == 1


def test_server_name_that_the_certificate_does_not_cover_fails_with_tls_error(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    tls_certs: dict[str, str],
    tmp_path: Path,
) -> None:
    server = start_redis(tls=tls_certs)
    exporter = tls_exporter(
        start_exporter,
        tmp_path,
        server,
        f"{{ca_file: {tls_certs['ca']}, server_name: cache.example.org}}",
    )
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance="cache") == 0
    assert scrape_errors(metrics) == {"tls": 1}


def test_server_name_that_the_certificate_covers_is_up(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    tls_certs: dict[str, str],
    tmp_path: Path,
) -> None:
    server = start_redis(tls=tls_certs)
    exporter = tls_exporter(
        start_exporter, tmp_path, server, f"{{ca_file: {tls_certs['ca']}, server_name: localhost}}"
    )
    assert exporter.metrics().value("redis_up", instance="cache") == 1


def test_client_certificate_is_presented_when_the_server_demands_one(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    tls_certs: dict[str, str],
    tmp_path: Path,
) -> None:
    server = start_redis(tls=dict(tls_certs, auth_clients="yes"))
    tls = (
        f"{{ca_file: {tls_certs['ca']}, cert_file: {tls_certs['client_cert']}, "
        f"key_file: {tls_certs['client_key']}}}"
    )
    exporter = tls_exporter(start_exporter, tmp_path, server, tls)
    for _ in range(2):  # the second scrape reuses the TLS connection
        metrics = exporter.metrics()
        assert metrics.value("redis_up", instance="cache") == 1
    assert scrape_errors(metrics) == {}
    assert [c["name"] for c in server.client().client_list()].count("cachescope") == 1


def test_missing_client_certificate_when_the_server_demands_one_is_a_tls_error(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    tls_certs: dict[str, str],
    tmp_path: Path,
) -> None:
    server = start_redis(tls=dict(tls_certs, auth_clients="yes"))
    exporter = tls_exporter(start_exporter, tmp_path, server, f"{{ca_file: {tls_certs['ca']}}}")
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance="cache") == 0
    assert scrape_errors(metrics) == {"tls": 1}


def test_tls_target_and_password_together(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    tls_certs: dict[str, str],
    tmp_path: Path,
) -> None:
    server = start_redis(tls=tls_certs, password="tls-and-pass-77")
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"targets:\n  - uri: {server.uri}\n    name: cache\n"
        f"    password: tls-and-pass-77\n    tls: {{ca_file: {tls_certs['ca']}}}\n"
    )
    exporter = start_exporter("--config.file", str(config))
    assert exporter.metrics().value("redis_up", instance="cache") == 1
    assert "tls-and-pass-77" not in exporter.log() + exporter.get("/")[1]
