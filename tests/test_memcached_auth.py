"""Memcached ASCII authentication (`memcached -Y authfile`) against real memcached 1.6."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cachescope.config.credentials import Credentials
from cachescope.config.targets import Secret
from cachescope.errors import ScrapeError
from cachescope.memcached.client import UNAUTHENTICATED, login_command
from cachescope.memcached.parse import ProtocolError, ReplyReader
from hostile import MEMCACHED_REPLIES, HostileServer, memcached_answering, memcached_like
from hypothesis import given
from hypothesis import strategies as st
from servers import MemcachedServer, StartExporter
from test_redis_auth import assert_nowhere

PASSWORD = "m3mc-Pa55word-k4"  # distinctive, so a leak anywhere is found by substring
WRONG = "wr0ng-Pa55word-z8"
USER = "exporter"
SCRAPE_COMMANDS = (b"stats", b"stats settings", b"stats slabs", b"stats items")


def instance(server: MemcachedServer) -> str:
    return f"127.0.0.1:{server.port}"


def uri_with(server: MemcachedServer, user: str, password: str) -> str:
    return f"memcached://{user}:{password}@127.0.0.1:{server.port}"


def server_stats(server: MemcachedServer) -> dict[str, str]:
    """`stats` of an auth server, read after logging in with the right password."""
    payload = f"{USER} {PASSWORD}".encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"set k 0 0 %d\r\n%s\r\nstats\r\n" % (len(payload), payload))
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    assert data.startswith(b"STORED\r\n"), data[:80]
    lines = data.decode().splitlines()[1:-1]
    return {line.split()[1]: line.split()[2] for line in lines}


def test_auth_server_scraped_with_credentials_in_the_uri(start_exporter: StartExporter) -> None:
    server = MemcachedServer(users={USER: PASSWORD, "other": "x-other"})
    try:
        exporter = start_exporter("--target", uri_with(server, USER, PASSWORD))
        metrics = exporter.metrics()
        at = {"instance": instance(server)}
        assert metrics.value("memcached_up", **at) == 1
        assert metrics.value("memcached_limit_bytes", **at) == 64 * 1024 * 1024
        assert metrics.value("memcached_current_connections", **at) >= 1
        assert metrics.value("memcached_auth_commands_total", **at) >= 1
        assert metrics.value("memcached_auth_errors_total", **at) == 0
        assert_nowhere(exporter, PASSWORD)
    finally:
        server.stop()


def test_auth_server_scraped_with_username_and_password_file_in_config(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    server = MemcachedServer(users={USER: PASSWORD})
    secret = tmp_path / "memcached-password"
    secret.write_text(PASSWORD + "\n")
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"targets:\n  - uri: {server.uri}\n    name: cache\n"
        f"    username: {USER}\n    password_file: {secret}\n"
    )
    try:
        exporter = start_exporter("--config.file", str(config))
        metrics = exporter.metrics()
        metrics = exporter.metrics()  # the kept, logged-in connection serves the second
        assert metrics.value("memcached_up", instance="cache") == 1
        assert metrics.value("memcached_current_items", instance="cache") == 0
        assert server_stats(server)["auth_errors"] == "0"
        assert_nowhere(exporter, PASSWORD)
    finally:
        server.stop()


def test_wrong_password_is_up_zero_with_an_auth_error_and_never_shown(
    start_exporter: StartExporter,
) -> None:
    server = MemcachedServer(users={USER: PASSWORD})
    try:
        exporter = start_exporter("--target", uri_with(server, USER, WRONG), "--log.level", "debug")
        exporter.metrics()
        metrics = exporter.metrics()
        at = {"instance": instance(server)}
        assert metrics.value("memcached_up", **at) == 0
        assert metrics.value("cachescope_scrape_errors_total", error="auth", **at) == 2
        assert metrics.get("memcached_limit_bytes", **at) == []
        assert "refused the username and password" in exporter.log()
        assert "error=auth" in exporter.log()
        assert int(server_stats(server)["auth_errors"]) == 2
        assert_nowhere(exporter, WRONG, PASSWORD)
    finally:
        server.stop()


def test_no_credentials_is_up_zero_with_a_reason_that_says_auth_is_needed(
    start_exporter: StartExporter,
) -> None:
    server = MemcachedServer(users={USER: PASSWORD})
    try:
        exporter = start_exporter("--target", server.uri, "--timeout", "20s")
        metrics = exporter.metrics()
        at = {"instance": instance(server)}
        assert metrics.value("memcached_up", **at) == 0
        # An auth error, at once: not a timeout waiting for replies the server never sends.
        assert metrics.value("cachescope_scrape_errors_total", error="auth", **at) == 1
        assert metrics.get("cachescope_scrape_errors_total", error="timeout", **at) in ([], [0])
        assert "asks for authentication" in exporter.log()
        status, page = exporter.get("/")
        assert status == 200 and "asks for authentication" in page
    finally:
        server.stop()


def test_a_server_that_does_not_ask_gets_no_login_and_no_password(
    start_exporter: StartExporter,
) -> None:
    server = MemcachedServer()
    try:
        exporter = start_exporter("--target", uri_with(server, USER, PASSWORD))
        exporter.metrics()
        metrics = exporter.metrics()
        at = {"instance": instance(server)}
        assert metrics.value("memcached_up", **at) == 1
        # A login is a `set`: on a server without -Y it would store an item.
        assert metrics.value("memcached_commands_total", command="set", status="hit", **at) == 0
        assert metrics.value("memcached_current_items", **at) == 0
    finally:
        server.stop()


def test_the_password_never_leaves_for_a_server_that_does_not_ask(
    start_exporter: StartExporter,
) -> None:
    fake = HostileServer(memcached_like)
    try:
        exporter = start_exporter("--target", f"memcached://{USER}:{PASSWORD}@{fake.address}")
        metrics = exporter.metrics()
        assert metrics.value("memcached_up", instance=fake.address) == 1
        assert b"stats" in fake.received
        assert PASSWORD.encode() not in fake.received
        assert b"set " not in fake.received
    finally:
        fake.stop()


def test_a_host_reached_through_an_allow_pattern_gets_only_that_rules_credentials(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    listed = MemcachedServer(users={USER: PASSWORD})
    other = MemcachedServer(users={USER: PASSWORD})
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"targets:\n  - uri: {uri_with(listed, USER, PASSWORD)}\n    name: listed\n"
        f"scrape:\n  allow:\n    - pattern: memcached://127.0.0.1:{other.port}\n"
    )
    try:
        exporter = start_exporter("--config.file", str(config))
        assert exporter.metrics().value("memcached_up", instance="listed") == 1
        scrape = f"/scrape?target=memcached://127.0.0.1:{other.port}"
        assert exporter.metrics(scrape).value("memcached_up") == 0
        assert int(server_stats(other)["auth_cmds"]) == 1  # our own login: none before it
        config.write_text(
            config.read_text() + f"      username: {USER}\n      password: {PASSWORD}\n"
        )
        assert exporter.post("/-/reload")[0] == 200
        assert exporter.metrics(scrape).value("memcached_up") == 1
        assert_nowhere(exporter, PASSWORD)
    finally:
        listed.stop()
        other.stop()


def test_login_command_is_a_set_whose_length_counts_bytes() -> None:
    password = Secret("pä ss")  # a space is allowed in a password, and ä is two bytes
    command = login_command(Credentials(username=USER, password=password))
    assert command == "set cachescope 0 0 15\r\nexporter pä ss"
    assert len(f"{USER} pä ss".encode()) == 15


def test_login_command_without_a_username_or_password_says_what_to_configure() -> None:
    for credentials in (Credentials(), Credentials(password=Secret(PASSWORD))):
        with pytest.raises(ScrapeError) as caught:
            login_command(credentials)
        assert caught.value.kind == "auth"
        assert "asks for authentication" in caught.value.message
    with pytest.raises(ScrapeError) as caught:
        login_command(Credentials(username="two words", password=Secret(PASSWORD)))
    assert "space" in caught.value.message and PASSWORD not in caught.value.message


def test_reader_gives_version_and_stored_as_status_lines() -> None:
    reader = ReplyReader()
    reader.feed(b"VERSION 1.6.18\r\nSTORED\r\nCLIENT_ERROR unauthenticated\r\nEND\r\n")
    assert [reader.gets() for _ in range(4)] == ["VERSION 1.6.18", "STORED", UNAUTHENTICATED, {}]
    reader.feed(b"STAT pid 1\r\nSTORED\r\n")  # not inside a stats reply
    with pytest.raises(ProtocolError):
        reader.gets()


def test_the_defaults_credentials_are_redis_only_and_never_sent_to_memcached(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    server = MemcachedServer(users={USER: PASSWORD})
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"defaults:\n  username: {USER}\n  password: {PASSWORD}\n"
        f"targets:\n  - uri: {server.uri}\n    name: cache\n"
    )
    try:
        exporter = start_exporter("--config.file", str(config))
        metrics = exporter.metrics()
        assert metrics.value("memcached_up", instance="cache") == 0
        assert "asks for authentication" in exporter.log()
        assert int(server_stats(server)["auth_cmds"]) == 1  # our own login: none before it
    finally:
        server.stop()


def test_a_proxy_that_refuses_version_is_still_scraped_and_sent_no_login(
    start_exporter: StartExporter,
) -> None:
    replies = {k: v for k, v in MEMCACHED_REPLIES.items() if k != b"version"}
    fake = HostileServer(memcached_answering(replies))
    try:
        exporter = start_exporter("--target", f"memcached://{USER}:{PASSWORD}@{fake.address}")
        assert exporter.metrics().value("memcached_up", instance=fake.address) == 1
        assert b"version\r\n" in fake.received
        assert PASSWORD.encode() not in fake.received
    finally:
        fake.stop()


def test_a_server_that_takes_the_login_yet_refuses_stats_is_an_auth_error(
    start_exporter: StartExporter,
) -> None:
    login = f"{USER} {PASSWORD}".encode()
    replies = {
        b"version": b"CLIENT_ERROR unauthenticated\r\n",
        b"set cachescope 0 0 %d" % len(login): b"",
        login: b"STORED\r\n",
        **{command: b"CLIENT_ERROR unauthenticated\r\n" for command in SCRAPE_COMMANDS},
    }
    fake = HostileServer(memcached_answering(replies))
    try:
        exporter = start_exporter("--target", f"memcached://{USER}:{PASSWORD}@{fake.address}")
        metrics = exporter.metrics()
        at = {"instance": fake.address}
        assert metrics.value("memcached_up", **at) == 0
        assert metrics.value("cachescope_scrape_errors_total", error="auth", **at) == 1
        assert "refused as unauthenticated after connecting" in exporter.log()
    finally:
        fake.stop()


@given(
    user=st.text(
        st.characters(blacklist_characters=" \r\n", blacklist_categories=["Cs"]), min_size=1
    ),
    password=st.text(st.characters(blacklist_categories=["Cs"]), min_size=1),
)
def test_login_payload_length_and_split_match_what_memcached_reads(
    user: str, password: str
) -> None:
    command = login_command(Credentials(username=user, password=Secret(password)))
    head, _, payload = command.partition("\r\n")
    assert head.split()[:4] == ["set", "cachescope", "0", "0"]
    assert int(head.split()[4]) == len(payload.encode())
    # memcached splits the payload at its first space into user and password.
    assert payload.encode().partition(b" ")[::2] == (user.encode(), password.encode())
