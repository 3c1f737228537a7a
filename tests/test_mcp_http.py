"""`cachescope mcp --transport http`: the SDK's HTTP app behind the exporter's web config."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import anyio
import bcrypt
import pytest
from mcpclient import McpHttp, basic_header, mcp_client
from servers import RedisServer

pytestmark = pytest.mark.live  # every test starts cachescope mcp
PASSWORD = "correct horse battery"  # noqa: S105 (a test credential)
TOOLS = {
    "list_targets",
    "fleet_health",
    "analyze_target",
    "keyspace_report",
    "explain_alert",
    "topology",
}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"},
    },
}


def web_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return str(path)


def with_users(tmp_path: Path) -> str:
    # Cost 4, the least bcrypt takes: the test checks the wiring, not bcrypt's speed.
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    headers = "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
    return web_config(tmp_path, f"basic_auth_users:\n  alice: '{hashed}'\n{headers}")


def post(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, str]:
    """An MCP initialize request by hand: status, headers and body."""
    body = json.dumps(INITIALIZE).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Accept", "application/json, text/event-stream")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read().decode()


def test_without_credentials_or_with_a_wrong_password_the_request_is_refused_with_401(
    tmp_path: Path, redis_server: RedisServer, start_mcp_http
) -> None:
    server = start_mcp_http("--target", redis_server.uri, "--web.config.file", with_users(tmp_path))
    for headers in ({}, basic_header("alice", "wrong"), basic_header("mallory", PASSWORD)):
        status, answer_headers, body = post(server.url, headers)
        assert status == 401, (headers, body)
        assert answer_headers.get("WWW-Authenticate", "").startswith("Basic")
        assert body == "Unauthorized\n"  # says nothing about users or the server
        assert answer_headers.get("X-Frame-Options") == "deny"  # the web config's headers
        assert answer_headers.get("Server") is None  # no server software advertised


def test_with_good_credentials_the_sdk_client_lists_the_six_tools_and_the_targets(
    tmp_path: Path, redis_server: RedisServer, start_mcp_http
) -> None:
    server = start_mcp_http("--target", redis_server.uri, "--web.config.file", with_users(tmp_path))

    async def session() -> tuple[set[str], str]:
        async with mcp_client(server.url, basic_header("alice", PASSWORD)) as client:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            result = await client.call_tool("list_targets", {})
            assert not result.is_error, result
            return tools, json.dumps(result.structured_content or result.model_dump(mode="json"))

    tools, targets = anyio.run(session)
    assert tools == TOOLS
    assert f"127.0.0.1:{redis_server.port}" in targets


def test_a_host_header_naming_another_host_is_refused_as_dns_rebinding(
    redis_server: RedisServer, start_mcp_http
) -> None:
    server = start_mcp_http("--target", redis_server.uri)
    assert post(server.url)[0] == 200  # the loopback names are the listener's own
    assert post(server.url, {"Host": f"rebound.example:{server.port}"})[0] == 421
    assert post(server.url, {"Origin": "http://rebound.example"})[0] == 403


def test_over_tls_https_works_with_the_ca_and_plain_http_fails(
    tmp_path: Path, tls_certs: dict[str, str], redis_server: RedisServer, start_mcp_http
) -> None:
    config = web_config(
        tmp_path,
        f"tls_server_config:\n  cert_file: {tls_certs['cert']}\n  key_file: {tls_certs['key']}\n"
        "  min_version: TLS12\n",
    )
    server = start_mcp_http("--target", redis_server.uri, "--web.config.file", config, tls=True)

    async def tools() -> set[str]:
        async with mcp_client(server.url, ca_file=tls_certs["ca"]) as client:
            return {tool.name for tool in (await client.list_tools()).tools}

    assert anyio.run(tools) == TOOLS
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        post(server.url.replace("https://", "http://"))
    with pytest.raises(ssl.SSLCertVerificationError):  # nor is the certificate trusted blindly
        ssl.create_default_context().wrap_socket(
            socket.create_connection(("127.0.0.1", server.port), timeout=5),
            server_hostname="127.0.0.1",
        )


def run_mcp(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cachescope", "mcp", "--transport", "http", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def test_a_bad_web_config_names_file_line_and_field_and_exits_1(tmp_path: Path) -> None:
    config = web_config(tmp_path, "basic_auth_users:\n  alice: not-a-hash\n")
    result = run_mcp("--target", "redis://127.0.0.1:1", "--web.config.file", config)
    assert result.returncode == 1
    assert f"{config}:2" in result.stderr and "alice" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_bad_listen_address_is_one_line_and_exits_non_zero() -> None:
    result = run_mcp("--target", "redis://127.0.0.1:1", "--web.listen-address", "127.0.0.1:99999")
    assert result.returncode != 0
    assert "listen address" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_port_in_use_is_one_line_and_exits_non_zero() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_mcp(
            "--target", "redis://127.0.0.1:1", "--web.listen-address", f"127.0.0.1:{port}"
        )
    assert result.returncode != 0
    assert "cannot listen on" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_or_sigint_stops_it_cleanly_with_exit_0(
    redis_server: RedisServer, start_mcp_http, stop: signal.Signals
) -> None:
    server: McpHttp = start_mcp_http("--target", redis_server.uri)
    assert post(server.url)[0] == 200  # a session is open when the signal comes
    started = time.monotonic()
    assert server.terminate(timeout=10, sig=stop) == 0, server.stderr()
    assert time.monotonic() - started < 8
    assert "Traceback" not in server.stderr()


def test_a_web_config_requiring_client_certificates_refuses_a_client_without_one(
    tmp_path: Path, tls_certs: dict[str, str], redis_server: RedisServer, start_mcp_http
) -> None:
    config = web_config(
        tmp_path,
        f"tls_server_config:\n  cert_file: {tls_certs['cert']}\n  key_file: {tls_certs['key']}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {tls_certs['ca']}\n",
    )
    server = start_mcp_http("--target", redis_server.uri, "--web.config.file", config, tls=True)

    def first_byte(with_cert: bool) -> bytes:
        """The first byte of the answer; b"" or an SSLError when the server refused."""
        context = ssl.create_default_context(cafile=tls_certs["ca"])
        if with_cert:
            context.load_cert_chain(tls_certs["client_cert"], tls_certs["client_key"])
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            conn.sendall(b"GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            try:  # TLS 1.3 reports a missing certificate after the handshake, at the first read
                return conn.recv(1)
            except (ssl.SSLError, ConnectionError):
                return b""

    assert first_byte(with_cert=True) == b"H"  # HTTP/1.1 ...
    assert first_byte(with_cert=False) == b""


def test_a_flood_of_wrong_passwords_is_told_to_retry_while_a_known_client_goes_on(
    tmp_path: Path, redis_server: RedisServer, start_mcp_http
) -> None:
    # Cost 12: each check takes four of the bcrypt budget's units (16 at once, 4 a second).
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=12)).decode()
    config = web_config(tmp_path, f"basic_auth_users:\n  alice: '{hashed}'\n")
    server = start_mcp_http("--target", redis_server.uri, "--web.config.file", config)
    right = basic_header("alice", PASSWORD)
    assert post(server.url, right)[0] == 200  # checked once, then remembered
    flood, refused, known = 40, [], []

    def attack(first: int) -> None:
        for i in range(first, flood, 8):
            status, headers, body = post(server.url, basic_header("alice", f"guess-{i}"))
            refused.append((status, headers.get("Retry-After"), body))

    attackers = [threading.Thread(target=attack, args=(i,)) for i in range(8)]
    for thread in attackers:
        thread.start()
    while any(thread.is_alive() for thread in attackers):
        known.append(post(server.url, right)[0])
    for thread in attackers:
        thread.join()
    statuses = [status for status, _, _ in refused]
    assert set(statuses) <= {401, 503} and len(statuses) == flood
    assert statuses.count(503) >= flood // 2, statuses  # most were never checked
    assert all(
        (after, body) == ("1", "Too many password checks; try again shortly.\n")
        for status, after, body in refused
        if status == 503
    )
    assert known and set(known) == {200}  # a remembered answer never waits on the budget
