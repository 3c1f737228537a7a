"""/scrape?target= is no open proxy: refusals make no connection, and passwords stay home.

One exporter per test, with a configured Redis that has a password, an allow
rule pinned to one port of 127.0.0.1 (a recording server, no credentials), and a
listener on another port that must never see a connection. Every target spelling
below names something other than what the rule allows; each must get HTTP 400
before any socket is opened.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import hostile
import pytest
from hostile import HostileServer
from servers import Exporter, Exposition, Listener, RedisServer, StartExporter, StartRedis

PASSWORD = "ssrf-Secret-pw-7731"  # distinctive: a leak anywhere is found by substring


@pytest.fixture
def recorder() -> Iterator[HostileServer]:
    """The allowed target: records every byte it receives and never answers."""
    server = HostileServer(hostile.never_answers)
    yield server
    server.stop()


@pytest.fixture
def locked(start_redis: StartRedis) -> RedisServer:
    return start_redis(password=PASSWORD)


def scrape(exporter: Exporter, target: str) -> tuple[int, str]:
    return exporter.get("/scrape?target=" + quote(target, safe=""), timeout=10)


def guarded_exporter(
    start_exporter: StartExporter, tmp_path: Path, locked: RedisServer, recorder: HostileServer
) -> Exporter:
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"targets:\n  - uri: {locked.uri}\n    name: locked\n    password: {PASSWORD}\n"
        f'scrape:\n  allow:\n    - pattern: "redis://127.0.0.1:{recorder.port}"\n'
    )
    exporter = start_exporter("--config.file", str(config), "--timeout", "1s")
    assert exporter.metrics().value("redis_up", instance="locked") == 1  # the password is live
    return exporter


def host_spellings(port: int) -> list[str]:
    """Other hosts, and 127.0.0.1 spelled so that a resolver (not a matcher) says it is."""
    hosts = [
        "10.0.0.1",
        "169.254.169.254",  # cloud metadata
        "localhost",
        "LOCALHOST",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "0.0.0.0",  # Linux connects this to the local host
        "2130706433",  # 127.0.0.1 as one decimal number, which inet_aton accepts
        "0x7f000001",
        "0177.0.0.1",  # octal
        "127.1",
        "127.0.0.01",
        "127.000.000.001",
        "127.0.0.1.",
        "127.0.0.1.nip.io",
        "127.0.0.2",
    ]
    return [f"redis://{host}:{port}" for host in hosts] + [f"{host}:{port}" for host in hosts]


def tricks(allowed: int, other: int) -> list[str]:
    """Spellings that try to reach port `other`, or anything but redis://127.0.0.1:`allowed`."""
    return [
        # Another port of the allowed host.
        f"redis://127.0.0.1:{other}",
        f"127.0.0.1:{other}",
        f"redis://127.0.0.1:0{other}",
        f"redis://127.0.0.1:{other + 65536}",  # wraps to `other` if truncated to 16 bits
        f"redis://127.0.0.1:{allowed}{other}",
        f"redis://127.0.0.1:{allowed}:{other}",
        f"redis://127.0.0.1:{other}#@127.0.0.1:{allowed}",
        f"redis://127.0.0.1:{other}?@127.0.0.1:{allowed}",
        # Userinfo: the part before @ is not the host.
        f"redis://127.0.0.1:{allowed}@127.0.0.1:{other}",
        f"redis://127.0.0.1:{allowed}@evil.invalid:1",
        f"redis://user:pw@127.0.0.1:{allowed}",
        f"redis://:pw@127.0.0.1:{allowed}",
        f"redis://user@127.0.0.1:{allowed}",
        f"redis://127.0.0.1:{allowed}\\@127.0.0.1:{other}",
        f"redis://127.0.0.1%3A{allowed}@127.0.0.1:{other}",
        # Percent-encoding is not decoded into a host or a port.
        f"redis://127.0.0.1%3A{other}",
        f"redis://%31%32%37.0.0.1:{other}",
        f"redis://127.0.0.1:%3{str(other)[0]}{str(other)[1:]}",
        f"redis://127.0.0.1%2F@127.0.0.1:{other}",
        f"redis://127.0.0.1%00:{other}",
        # Other schemes; rediss where only redis is allowed.
        f"rediss://127.0.0.1:{allowed}",
        f"memcached://127.0.0.1:{allowed}",
        f"http://127.0.0.1:{other}",
        f"https://127.0.0.1:{other}",
        f"gopher://127.0.0.1:{other}/_INFO",
        f"dict://127.0.0.1:{other}/info",
        "file:///etc/passwd",
        "unix:///var/run/redis/redis-server.sock",
        "unix:///var/run/redis.sock",
        "memcached+unix:///var/run/memcached.sock",
        f"//127.0.0.1:{other}",
        # Whitespace and control characters that a lenient parser drops or splits on.
        f"redis://127.0.0.1 :{other}",
        f"redis://127.0.0.1:{other} ",
        f"redis://127.0.0.1:{other}\n",
        f"redis://127.0.0.1:{allowed}\n@127.0.0.1:{other}",
        f"redis://127.0.0.1\t:{other}",
        f"redis://127.0.0.1:{other}\r\nPING",
        f" redis://127.0.0.1:{other}",
        f"redis://127.0.0.1:{allowed}/0\r\nredis://127.0.0.1:{other}",
    ]


def assert_no_secret(exporter: Exporter, *bodies: str) -> None:
    pages = [exporter.get(path)[1] for path in ("/", "/metrics", "/discover")]
    for text in [*bodies, *pages, exporter.log()]:
        assert PASSWORD not in text


def test_other_hosts_and_spellings_of_localhost_are_refused_without_connecting(
    start_exporter: StartExporter,
    tmp_path: Path,
    locked: RedisServer,
    recorder: HostileServer,
    listener: Listener,
) -> None:
    exporter = guarded_exporter(start_exporter, tmp_path, locked, recorder)
    bodies = []
    for port in (listener.port, recorder.port):  # even the allowed port, on another host
        for target in host_spellings(port):
            status, body = scrape(exporter, target)
            assert status == 400, (target, body)
            bodies.append(body)
    assert listener.accepted() == 0
    assert recorder.connections == 0
    assert_no_secret(exporter, *bodies)


def test_port_userinfo_encoding_scheme_and_whitespace_tricks_are_refused_without_connecting(
    start_exporter: StartExporter,
    tmp_path: Path,
    locked: RedisServer,
    recorder: HostileServer,
    listener: Listener,
) -> None:
    exporter = guarded_exporter(start_exporter, tmp_path, locked, recorder)
    bodies = []
    for target in tricks(recorder.port, listener.port):
        status, body = scrape(exporter, target)
        assert status == 400, (target, body)
        bodies.append(body)
    assert listener.accepted() == 0
    assert recorder.connections == 0
    assert_no_secret(exporter, *bodies)


def test_unix_socket_targets_are_refused_without_connecting(
    start_exporter: StartExporter,
    tmp_path: Path,
    locked: RedisServer,
    recorder: HostileServer,
) -> None:
    path = tmp_path / "redis.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
        unix.bind(str(path))
        unix.listen(4)
        unix.setblocking(False)
        exporter = guarded_exporter(start_exporter, tmp_path, locked, recorder)
        for target in (f"unix://{path}", f"unix://{path}?db=0", f"memcached+unix://{path}"):
            status, body = scrape(exporter, target)
            assert status == 400, (target, body)
        with pytest.raises(BlockingIOError):
            unix.accept()


def test_configured_password_is_not_sent_to_a_target_reached_through_an_allow_rule(
    start_exporter: StartExporter,
    tmp_path: Path,
    locked: RedisServer,
    recorder: HostileServer,
) -> None:
    exporter = guarded_exporter(start_exporter, tmp_path, locked, recorder)
    status, body = scrape(exporter, f"redis://127.0.0.1:{recorder.port}")
    assert status == 200, body
    assert Exposition(body).value("redis_up") == 0  # it never answers
    assert recorder.connections == 1
    assert b"INFO" in recorder.received or b"CLIENT" in recorder.received  # we did talk
    assert b"AUTH" not in recorder.received
    assert PASSWORD.encode() not in recorder.received
    # The configured target, by address, still gets its password: the rule did not shadow it.
    status, body = scrape(exporter, locked.uri)
    assert status == 200 and Exposition(body).value("redis_up") == 1
    assert_no_secret(exporter, body)


def test_password_flag_for_targets_is_not_sent_to_a_target_reached_through_scrape_allow(
    start_exporter: StartExporter, locked: RedisServer, recorder: HostileServer
) -> None:
    """--redis.password-file / CACHESCOPE_REDIS_PASSWORD are for `--target` targets (README).

    Any local user can listen on a free port of 127.0.0.1, so a rule like
    `redis://127.0.0.1:*` that also carried the password would hand it to them.
    """
    exporter = start_exporter(
        "--target",
        locked.uri,
        "--scrape.allow",
        f"redis://127.0.0.1:{recorder.port}",
        "--timeout",
        "1s",
        env={"CACHESCOPE_REDIS_PASSWORD": PASSWORD},
    )
    assert exporter.metrics().value("redis_up", instance=f"127.0.0.1:{locked.port}") == 1
    status, body = scrape(exporter, f"redis://127.0.0.1:{recorder.port}")
    assert status == 200, body
    assert recorder.connections == 1
    assert PASSWORD.encode() not in recorder.received, "the --target password went to /scrape"
    assert_no_secret(exporter, body)
