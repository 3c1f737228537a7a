"""The web config read again: a rotated certificate served at once, a broken one refused."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
from cachescope.config.yamlmarks import ConfigError
from cachescope.web.webconfig import WebConfig, load_web_config
from cachescope.web.webreload import WebReloader
from servers import Exposition, RedisServer, require_binary, wait_for
from test_web_probes import start, tls, users

HEADER = "http_server_config:\n  headers:\n    X-Frame-Options: {}\n"


def make_pair(directory: Path, name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for 127.0.0.1 and its key, made by openssl now."""
    openssl = require_binary("openssl")
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    command = [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
    command += ["-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1"]
    command += ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return cert.read_bytes(), key.read_bytes()


def replace(path: Path, data: bytes) -> None:
    """Write a file as a rotation does: a new file renamed over the old."""
    fresh = path.with_suffix(".new")
    fresh.write_bytes(data)
    os.replace(fresh, path)


def blind() -> ssl.SSLContext:
    """A client that takes any certificate, as the kubelet's probes do."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def served_certificate(port: int) -> bytes:
    """The certificate a new TLS handshake gets, in PEM."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with raw, blind().wrap_socket(raw) as tls_sock:
        der = tls_sock.getpeercert(binary_form=True)
    assert der is not None
    return ssl.DER_cert_to_PEM_cert(der).encode()


def same(pem: bytes, other: bytes) -> bool:
    return ssl.PEM_cert_to_DER_cert(pem.decode()) == ssl.PEM_cert_to_DER_cert(other.decode())


def test_a_rotated_certificate_is_served_without_a_restart_and_a_broken_one_refused(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    (old_cert, old_key), (new_cert, new_key) = (
        make_pair(tmp_path, "old"),
        make_pair(tmp_path, "new"),
    )
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    replace(cert, old_cert)
    replace(key, old_key)
    text = f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
    exporter = start(tmp_path, text, "--target", redis_server.uri, context=blind())
    try:
        pid = exporter.proc.pid
        assert same(served_certificate(exporter.port), old_cert)
        replace(key, new_key)
        replace(cert, new_cert)
        wait_for(
            lambda: same(served_certificate(exporter.port), new_cert),
            timeout=30,
            what="the rotated certificate to be served",
        )
        replace(cert, b"-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n")

        def failures() -> float:
            metrics = Exposition(exporter.get("/metrics")[1])
            return metrics.value("cachescope_web_config_reload_failures_total")

        wait_for(lambda: failures() >= 1, timeout=30, what="the broken certificate's refusal")
        assert same(served_certificate(exporter.port), new_cert)  # the old one kept
        metrics = Exposition(exporter.get("/metrics")[1])
        assert metrics.value("cachescope_web_config_last_reload_successful") == 0
        assert exporter.proc.pid == pid and exporter.proc.poll() is None
        assert "keeping the running one" in exporter.log()
        assert "Traceback" not in exporter.log()
    finally:
        exporter.stop()


def test_post_reload_and_sighup_read_the_web_config_again(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    exporter = start(tmp_path, HEADER.format("deny"), "--target", redis_server.uri)
    path = tmp_path / "web.yml"
    try:
        assert exporter.fetch("/-/healthy")[1]["x-frame-options"] == "deny"
        path.write_text(HEADER.format("sameorigin"))
        assert exporter.fetch("/-/reload", "POST")[0] == 200
        assert exporter.fetch("/-/healthy")[1]["x-frame-options"] == "sameorigin"
        path.write_text(HEADER.format("sameorigin") + "  http2: true\n")
        status, _, body = exporter.fetch("/-/reload", "POST")
        assert status == 400 and f"{path}:4: http_server_config.http2" in body, body
        assert exporter.fetch("/-/healthy")[1]["x-frame-options"] == "sameorigin"
        metrics = Exposition(exporter.get("/metrics")[1])
        assert metrics.value("cachescope_web_config_reload_failures_total") == 1
        path.write_text(HEADER.format("deny"))
        exporter.proc.send_signal(signal.SIGHUP)
        wait_for(
            lambda: exporter.fetch("/-/healthy")[1]["x-frame-options"] == "deny",
            what="SIGHUP to reload the web config",
        )
        metrics = Exposition(exporter.get("/metrics")[1])
        assert metrics.value("cachescope_web_config_last_reload_successful") == 1
    finally:
        exporter.stop()


@pytest.mark.live  # tls_certs runs openssl
def test_a_reload_that_adds_tls_to_a_plain_listener_is_refused_and_counted(
    tmp_path: Path, tls_certs: dict[str, str]
) -> None:
    web = tmp_path / "web.yml"
    web.write_text(users())
    applied: list[WebConfig] = []
    reloader = WebReloader(load_web_config(str(web)), applied.append)
    web.write_text(tls(tls_certs) + users())
    with pytest.raises(ConfigError) as caught:
        reloader.load()
    assert "restart is needed to change the listener's protocol" in str(caught.value)
    assert reloader.stats.failures == 1 and not reloader.stats.last_ok and applied == []
