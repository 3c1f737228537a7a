"""exporter-toolkit's web config keys: each one honoured, or refused with file, line and key."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cachescope.config.yamlmarks import ConfigError
from cachescope.web.webconfig import load_web_config
from cachescope.web.wire import configure_headers, response_head
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import RedisServer
from test_web_probes import credentials, start, tls, users

HEADERS = (
    "http_server_config:\n"
    "  headers:\n"
    "    X-Frame-Options: deny\n"
    "    Strict-Transport-Security: max-age=31536000; includeSubDomains\n"
    "    X-Content-Type-Options: nosniff\n"
    "    Content-Security-Policy: \"default-src 'self'\"\n"
)
EXPECTED = {
    "x-frame-options": "deny",
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'self'",
}


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return str(path)


def refusal(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    return str(caught.value)


@pytest.mark.unit
def test_headers_from_the_web_config_are_loaded(tmp_path: Path) -> None:
    config = load_web_config(write(tmp_path, HEADERS))
    assert {k.lower(): v for k, v in config.headers.items()} == EXPECTED


H = "http_server_config:\n  headers:\n    "  # a header on line 3
T = "tls_server_config:\n  cert_file: C\n  key_file: K\n  "  # a TLS key on line 4
NOT_IMPLEMENTED = [
    (H + "Content-Length: '5'\n", 3, "Content-Length", "cannot be configured"),
    (H + "Content-Type: text/html\n", 3, "Content-Type", "cannot be configured"),
    (H + "Set-Cookie: a=b\n", 3, "Set-Cookie", "cannot be configured"),
    (H + "X-Frame-Options: foo\n", 3, "X-Frame-Options", "deny, sameorigin"),
    (H + 'X-XSS-Protection: "1\\r\\nX: y"\n', 3, "X-XSS-Protection", "one line"),
    ("http_server_config:\n  http2: true\n", 2, "http_server_config.http2", "HTTP/2"),
    ("http_server_config:\n  compression: true\n", 2, "http_server_config.compression", ""),
    (T + "client_allowed_sans: [a]\n", 4, "client_allowed_sans", ""),
    (T + "cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n", 4, "cipher_suites[0]", "unknown cipher"),
    (T + "curve_preferences: [CurveP224]\n", 4, "curve_preferences[0]", "unknown curve"),
    (T + "curve_preferences: [X25519, CurveP256]\n", 4, "curve_preferences", "one key-exchange"),
    (T + "prefer_server_cipher_suites: yes please\n", 4, "prefer_server_cipher_suites", ""),
    (T + "client_auth_type: RequireAnyClientCert\n", 4, "client_auth_type", "RequireAndVerify"),
    (T + "client_auth_type: RequestClientCert\n", 4, "client_auth_type", "VerifyClientCertIfGiven"),
    (T + "min_version: TLS10\n", 4, "tls_server_config.min_version", "TLS12 or TLS13"),
    (T + "max_version: TLS11\n", 4, "tls_server_config.max_version", "TLS12 or TLS13"),
    (H + 'Strict-Transport-Security: ""\n', 3, "Strict-Transport-Security", "not empty"),
    (H + "X-XSS-Protection: '   '\n", 3, "X-XSS-Protection", "not empty"),
]


@pytest.mark.parametrize(("text", "line", "key", "words"), NOT_IMPLEMENTED)
def test_a_key_or_value_not_implemented_is_refused_with_file_line_and_key(
    tmp_path: Path,
    tls_certs: dict[str, str],
    text: str,
    line: int,
    key: str,
    words: str,
) -> None:
    text = text.replace("cert_file: C", f"cert_file: {tls_certs['cert']}")
    text = text.replace("key_file: K", f"key_file: {tls_certs['key']}")
    message = refusal(tmp_path, text)
    assert f"web.yml:{line}:" in message, message
    assert key in message and words in message, message
    assert "\r" not in message


def handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> str:
    """The cipher a client and a server agree on, over a socket pair."""
    left, right = socket.socketpair()
    with left, right:
        left.settimeout(10)
        right.settimeout(10)
        outcome: list[object] = []

        def serve() -> None:
            try:
                with server.wrap_socket(right, server_side=True) as tls_sock:
                    outcome.append(tls_sock.cipher())
            except (ssl.SSLError, OSError) as exc:
                outcome.append(exc)

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            with client.wrap_socket(left, server_hostname="localhost") as tls_sock:
                cipher = tls_sock.cipher()
        finally:
            thread.join(10)
        assert cipher is not None
        return cipher[0]


def client(ca: str, version: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca)
    context.maximum_version = version
    return context


def test_cipher_suites_limit_what_a_tls12_client_gets(
    tmp_path: Path, tls_certs: dict[str, str]
) -> None:
    text = tls(tls_certs) + "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n"
    server = load_web_config(write(tmp_path, text)).tls
    assert server is not None
    assert handshake(server, client(tls_certs["ca"])) == "ECDHE-RSA-AES256-GCM-SHA384"
    other = client(tls_certs["ca"])
    other.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")  # only a suite not listed
    with pytest.raises(ssl.SSLError):
        handshake(server, other)


def test_tls13_suites_are_accepted_and_stay_on(tmp_path: Path, tls_certs: dict[str, str]) -> None:
    listed = "[TLS_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]"
    server = load_web_config(write(tmp_path, tls(tls_certs) + f"  cipher_suites: {listed}\n")).tls
    assert server is not None
    modern = client(tls_certs["ca"], ssl.TLSVersion.TLSv1_3)
    assert handshake(server, modern).startswith("TLS_")
    only13 = tls(tls_certs) + "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"
    assert "not configurable" in refusal(tmp_path, only13)


def test_curve_preferences_refuse_a_client_without_that_curve(
    tmp_path: Path, tls_certs: dict[str, str]
) -> None:
    server = load_web_config(
        write(tmp_path, tls(tls_certs) + "  curve_preferences: [CurveP384]\n")
    ).tls
    assert server is not None
    same = client(tls_certs["ca"], ssl.TLSVersion.TLSv1_3)
    same.set_ecdh_curve("secp384r1")
    assert handshake(server, same)
    other = client(tls_certs["ca"], ssl.TLSVersion.TLSv1_3)
    other.set_ecdh_curve("prime256v1")
    with pytest.raises(ssl.SSLError):
        handshake(server, other)


def test_prefer_server_cipher_suites_sets_openssl_server_preference(
    tmp_path: Path, tls_certs: dict[str, str]
) -> None:
    preference = ssl.OP_CIPHER_SERVER_PREFERENCE
    on = load_web_config(write(tmp_path, tls(tls_certs))).tls
    assert on is not None and on.options & preference  # exporter-toolkit's default
    text = tls(tls_certs) + "  prefer_server_cipher_suites: false\n"
    off = load_web_config(write(tmp_path, text)).tls
    assert off is not None and not off.options & preference


def test_configured_headers_are_on_every_response_errors_and_401s_too(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    exporter = start(tmp_path, HEADERS + users(), "--target", redis_server.uri)
    try:
        seen = [
            exporter.fetch("/-/healthy"),
            exporter.fetch("/metrics"),  # 401
            exporter.fetch("/metrics", authorization=credentials()),
            exporter.fetch("/nowhere", authorization=credentials()),  # 404
            exporter.fetch("/metrics", "DELETE", authorization=credentials()),  # 405
            exporter.fetch("/-/healthy", "HEAD"),
        ]
        assert [status for status, _, _ in seen] == [200, 401, 200, 404, 405, 200]
        for status, headers, _ in seen:
            assert {k: headers.get(k) for k in EXPECTED} == EXPECTED, status
        # A request the front refuses itself (malformed) gets them too.
        with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
            reply = sock.recv(4096).decode("latin-1").lower()
        assert reply.startswith("http/1.1 400")
        assert "x-frame-options: deny\r\n" in reply
    finally:
        exporter.stop()


@pytest.mark.unit
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.text(max_size=40))
def test_a_header_value_is_loaded_only_if_it_stays_one_header_line(
    tmp_path: Path, value: str
) -> None:
    path = tmp_path / "web.yml"
    path.write_text(
        "http_server_config:\n  headers:\n    Content-Security-Policy: " + json.dumps(value) + "\n"
    )
    try:
        headers = load_web_config(str(path)).headers
    except ConfigError as exc:
        assert f"{path}:3:" in str(exc)
        return
    configure_headers(headers)
    try:
        head = response_head(200, 0, "text/plain", {}, True).decode("latin-1")
    finally:
        configure_headers({})
    lines = head.split("\r\n")
    assert lines[-2:] == ["", ""] and all(line.isprintable() for line in lines)
    assert f"Content-Security-Policy: {value}" in lines
