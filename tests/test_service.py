"""The exporter as a service: TLS and basic auth, live reload, graceful stop, limits."""

from __future__ import annotations

import base64
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import pytest
from servers import Exporter, Exposition, RedisServer, free_port, wait_for

WEB_PASSWORD = "web-s3cret-Passw0rd"


class SecureExporter(Exporter):
    """An exporter behind TLS and basic auth, with a client that knows both."""

    def __init__(self, *args: str, context: ssl.SSLContext, auth: tuple[str, str] | None) -> None:
        self.context = context
        self.auth = auth
        super().__init__(*args)

    def get(self, path: str, timeout: float = 30) -> tuple[int, str]:
        request = urllib.request.Request(f"https://127.0.0.1:{self.port}{path}")
        if self.auth:
            token = base64.b64encode(":".join(self.auth).encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self.context) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()


def web_config(tmp_path: Path, tls_certs: dict[str, str], extra: str = "") -> str:
    hashed = bcrypt.hashpw(WEB_PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    path = tmp_path / "web.yml"
    path.write_text(
        f"tls_server_config:\n  cert_file: {tls_certs['cert']}\n  key_file: {tls_certs['key']}\n"
        f"{extra}basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    return str(path)


def test_tls_and_basic_auth_protect_every_endpoint(
    redis_server: RedisServer, tls_certs: dict[str, str], tmp_path: Path
) -> None:
    config = web_config(tmp_path, tls_certs)
    args = ("--web.config.file", config, "--target", redis_server.uri)
    context = ssl.create_default_context(cafile=tls_certs["ca"])
    exporter = SecureExporter(*args, context=context, auth=("prometheus", WEB_PASSWORD))
    try:
        status, body = exporter.get("/metrics")
        assert status == 200 and Exposition(body).get("redis_up") == [1.0]
        for path in ("/metrics", "/scrape?target=" + redis_server.uri, "/", "/discover"):
            exporter.auth = None
            assert exporter.get(path)[0] == 401, path
            exporter.auth = ("prometheus", "wrong")
            assert exporter.get(path)[0] == 401, path
            exporter.auth = ("nobody", WEB_PASSWORD)
            assert exporter.get(path)[0] == 401, path
        with pytest.raises(OSError):  # plain HTTP to the TLS port (URLError is an OSError)
            urllib.request.urlopen(f"http://127.0.0.1:{exporter.port}/metrics", timeout=5)
        assert WEB_PASSWORD not in exporter.log()
    finally:
        exporter.stop()


def test_client_certificates_when_the_web_config_requires_them(
    redis_server: RedisServer, tls_certs: dict[str, str], tmp_path: Path
) -> None:
    extra = f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {tls_certs['ca']}\n"
    args = (
        "--web.config.file",
        web_config(tmp_path, tls_certs, extra),
        "--target",
        redis_server.uri,
    )
    context = ssl.create_default_context(cafile=tls_certs["ca"])
    context.load_cert_chain(tls_certs["client_cert"], tls_certs["client_key"])
    exporter = SecureExporter(*args, context=context, auth=("prometheus", WEB_PASSWORD))
    try:
        assert exporter.get("/metrics")[0] == 200
        exporter.context = ssl.create_default_context(cafile=tls_certs["ca"])  # no client cert
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
            exporter.get("/metrics", timeout=5)
    finally:
        exporter.stop()


def test_bad_web_config_stops_the_start_naming_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("basic_auth_users:\n  prometheus: plaintext-password\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cachescope",
            "serve",
            "--web.config.file",
            str(path),
            "--web.listen-address",
            f"127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert f"{path}:2: basic_auth_users.prometheus:" in result.stderr
    assert "plaintext-password" not in result.stderr


def test_reload_applies_a_valid_config_and_refuses_a_bad_one_without_dropping_a_scrape(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    first, second = start_redis(), start_redis()
    config = tmp_path / "cachescope.yml"
    config.write_text(f"targets:\n  - uri: {first.uri}\n    name: first\n")
    exporter: Exporter = start_exporter("--config.file", str(config))
    failures: list[str] = []
    scrapes = 0
    stop = threading.Event()

    def scrape_constantly() -> None:
        nonlocal scrapes
        while not stop.is_set():
            status, body = exporter.get("/metrics")
            scrapes += 1
            if status != 200 or Exposition(body).get("redis_up", instance="first") != [1.0]:
                failures.append(f"{status}: {body[:200]}")

    scraper = threading.Thread(target=scrape_constantly)
    scraper.start()
    try:
        config.write_text(
            f"targets:\n  - uri: {first.uri}\n    name: first\n"
            f"  - uri: {second.uri}\n    name: second\n"
        )
        assert exporter.post("/-/reload") == (200, "Reloaded\n")
        assert exporter.metrics().value("redis_up", instance="second") == 1

        config.write_text(f"targets:\n  - uri: {first.uri}\n    name: first\n    timeout: soon\n")
        status, body = exporter.post("/-/reload")
        assert status == 400
        assert f"{config}:4: targets[0].timeout:" in body
        exporter.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload refused" in exporter.log(), what="SIGHUP reload to be refused")
        assert exporter.metrics().value("redis_up", instance="second") == 1  # old config runs
        wait_for(lambda: scrapes > 3, what="the concurrent scrapes to run a few times")
    finally:
        stop.set()
        scraper.join()
    assert scrapes > 3 and failures == []

    config.write_text(f"targets:\n  - uri: {second.uri}\n    name: second\n")
    exporter.proc.send_signal(signal.SIGHUP)
    wait_for(
        lambda: exporter.metrics().get("redis_up", instance="first") == [],
        what="SIGHUP reload to drop the first target",
    )
    assert exporter.metrics().value("redis_up", instance="second") == 1


def test_sigterm_finishes_the_scrape_under_way_and_exits(
    start_redis,
    start_exporter,  # type: ignore[no-untyped-def]
) -> None:
    healthy, hung = start_redis(), start_redis()
    exporter: Exporter = start_exporter(
        "--target",
        healthy.uri,
        "--target",
        hung.uri,
        "--timeout",
        "2s",
        "--web.shutdown-timeout",
        "5s",
    )
    hung.pause()
    answers: list[tuple[int, str]] = []
    request = threading.Thread(target=lambda: answers.append(exporter.get("/metrics")))
    request.start()
    time.sleep(0.5)  # the scrape is now waiting on the hung target
    started = time.monotonic()
    exporter.proc.send_signal(signal.SIGTERM)
    exporter.proc.wait(timeout=15)
    request.join(timeout=15)
    hung.resume()
    assert exporter.proc.returncode == 0
    assert time.monotonic() - started < 10  # the scrape's own 2 s timeout, within the 5 s grace
    assert answers and answers[0][0] == 200
    metrics = Exposition(answers[0][1])
    assert metrics.value("redis_up", instance=f"127.0.0.1:{healthy.port}") == 1
    assert metrics.value("redis_up", instance=f"127.0.0.1:{hung.port}") == 0
    assert "stopped" in exporter.log()


def test_series_limit_fails_only_the_target_that_exceeds_it(
    redis_server: RedisServer,
    start_exporter,  # type: ignore[no-untyped-def]
) -> None:
    exporter: Exporter = start_exporter("--target", redis_server.uri, "--limits.max-series", "50")
    metrics = exporter.metrics()
    instance = f"127.0.0.1:{redis_server.port}"
    assert metrics.value("redis_up", instance=instance) == 0
    assert (
        metrics.value("cachescope_scrape_errors_total", instance=instance, error="series_limit")
        == 1
    )
    assert "more than the limit of 50" in exporter.log()


def test_targets_past_the_connection_budget_reconnect_each_scrape(
    start_redis,
    start_exporter,  # type: ignore[no-untyped-def]
) -> None:
    first, second = start_redis(), start_redis()
    exporter: Exporter = start_exporter(
        "--target", first.uri, "--target", second.uri, "--limits.max-connections", "1"
    )

    def connections(server: RedisServer) -> int:
        with server.client() as client:
            return int(client.info("stats")["total_connections_received"])

    exporter.metrics()
    before = (connections(first), connections(second))
    for _ in range(3):
        assert exporter.metrics().get("redis_up") == [1.0, 1.0]
    grown = (connections(first) - before[0] - 1, connections(second) - before[1] - 1)
    # One target kept its connection (only our own counting connection shows), the other
    # opened one per scrape.
    assert sorted(grown) == [0, 3]
