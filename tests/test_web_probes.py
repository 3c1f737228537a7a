"""Health probes with the exporter protected: exempt from basic auth, served over TLS too."""

from __future__ import annotations

import base64
import http.client
import ssl
from pathlib import Path

import bcrypt
from servers import Exporter, RedisServer

PASSWORD = "probe-Passw0rd"
HEALTH = {"/-/healthy": "Healthy\n", "/-/ready": "Ready\n"}


def users() -> str:
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    return f"basic_auth_users:\n  prometheus: '{hashed}'\n"


def tls(certs: dict[str, str]) -> str:
    return f"tls_server_config:\n  cert_file: {certs['cert']}\n  key_file: {certs['key']}\n"


class WebExporter(Exporter):
    """An exporter with a web config, and a client that says what it got, headers too."""

    def __init__(self, *args: str, context: ssl.SSLContext | None = None) -> None:
        self.context = context
        self.authorization: str | None = None
        super().__init__(*args)

    def fetch(
        self, path: str, method: str = "GET", authorization: str | None = None
    ) -> tuple[int, dict[str, str], str]:
        """Status, headers (lower-case names) and body of one request."""
        if self.context is not None:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=30, context=self.context
            )
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            headers = {"Authorization": authorization} if authorization else {}
            conn.request(method, path, headers=headers)
            reply = conn.getresponse()
            body = reply.read().decode()
            return reply.status, {k.lower(): v for k, v in reply.getheaders()}, body
        finally:
            conn.close()

    def get(self, path: str, timeout: float = 30) -> tuple[int, str]:
        status, _, body = self.fetch(path, authorization=self.authorization)
        return status, body


def credentials(user: str = "prometheus", password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def start(tmp_path: Path, text: str, *args: str, **kwargs: ssl.SSLContext) -> WebExporter:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return WebExporter("--web.config.file", str(path), *args, **kwargs)


def assert_probes_open_and_the_rest_closed(exporter: WebExporter, redis_uri: str) -> None:
    for path, body in HEALTH.items():
        for method in ("GET", "HEAD"):
            status, headers, text = exporter.fetch(path, method)
            assert status == 200, (path, method, text)
            assert "www-authenticate" not in headers
        # Nothing but the fixed text: no target names, no counts.
        assert exporter.fetch(path)[2] == body
        assert exporter.fetch(path, authorization=credentials(password="wrong"))[0] == 200
    for path in ("/metrics", f"/scrape?target={redis_uri}", "/", "/discover"):
        status, headers, _ = exporter.fetch(path)
        assert status == 401, path
        assert headers["www-authenticate"] == 'Basic realm="cachescope"'
    assert exporter.fetch("/-/reload", "POST")[0] == 401  # reloading is no probe
    assert exporter.fetch("/-/healthy/", "GET")[0] == 401  # exact paths only
    status, _, body = exporter.fetch("/metrics", authorization=credentials())
    assert status == 200 and "redis_up" in body


def test_health_probes_answer_without_credentials_when_basic_auth_is_on(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    exporter = start(tmp_path, users(), "--target", redis_server.uri)
    try:
        assert_probes_open_and_the_rest_closed(exporter, redis_server.uri)
        assert PASSWORD not in exporter.log()
    finally:
        exporter.stop()


def test_health_probes_answer_over_tls_without_credentials(
    redis_server: RedisServer, tmp_path: Path, tls_certs: dict[str, str]
) -> None:
    context = ssl.create_default_context(cafile=tls_certs["ca"])
    text = tls(tls_certs) + users()
    exporter = start(tmp_path, text, "--target", redis_server.uri, context=context)
    try:
        assert_probes_open_and_the_rest_closed(exporter, redis_server.uri)
        # The kubelet's HTTPS probes do not verify the certificate: neither does this one.
        blind = ssl.create_default_context()
        blind.check_hostname, blind.verify_mode = False, ssl.CERT_NONE
        exporter.context = blind
        assert exporter.fetch("/-/healthy")[0] == 200
        exporter.context = None  # plain HTTP to the TLS port gets no health answer
        try:
            status = exporter.fetch("/-/healthy")[0]
        except (OSError, http.client.HTTPException):
            status = 0
        assert status != 200
    finally:
        exporter.stop()
