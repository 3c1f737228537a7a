"""Hostile and broken targets: each costs only its own series, with an error kind and a hint.

Every case runs one exporter with the hostile target and a healthy Redis side by
side, `--timeout 1s`, and checks the same four things: the hostile target is
`up 0` (or partial, where the server still answers INFO), its error counter has
the right kind, the healthy target on the same /metrics is `up 1`, and /metrics
came back within a bound derived from the timeout (a functional bound, not a
benchmark). Real processes where they reproduce the case; tests/hostile.py for
the rest.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import hostile
import logfmt
import pytest
import redis
from cachescope.errors import ERROR_HINTS
from hostile import HostileServer
from servers import Exporter, Exposition, Process, RedisServer, StartExporter, StartRedis, wait_for

TIMEOUT = 1.0
# A hung target costs its own timeout; the exporter's pool adds a second for DNS
# and thread start-up. One more second of slack for a loaded CI machine.
BOUND = TIMEOUT + 2.0

StartHostile = Callable[[Callable[[socket.socket, HostileServer], None]], HostileServer]


@pytest.fixture
def start_hostile() -> Iterator[StartHostile]:
    """Factory: start_hostile(behaviour) -> HostileServer; all stopped (threads joined) after."""
    started: list[HostileServer] = []

    def start(behaviour: Callable[[socket.socket, HostileServer], None]) -> HostileServer:
        server = HostileServer(behaviour)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def instance(server: RedisServer | HostileServer) -> str:
    return f"127.0.0.1:{server.port}"


def scrape_errors(metrics: Exposition, name: str) -> dict[str, float]:
    return metrics.scrape_errors(name)


def beside_healthy(
    start_exporter: StartExporter,
    healthy: RedisServer,
    target: str,
    env: dict[str, str] | None = None,
) -> Exporter:
    """An exporter watching `target` and a healthy Redis, with a 1 s timeout."""
    return start_exporter(
        "--target", target, "--target", healthy.uri, "--timeout", f"{TIMEOUT:g}s", env=env
    )


def timed_metrics(exporter: Exporter) -> Exposition:
    """/metrics, checked to come back within BOUND whatever the hostile target does."""
    start = time.monotonic()
    metrics = exporter.metrics()
    elapsed = time.monotonic() - start
    assert elapsed < BOUND, f"/metrics took {elapsed:.1f}s with a {TIMEOUT:g}s timeout"
    return metrics


def log_lines(exporter: Exporter, name: str) -> list[str]:
    """The exporter's log lines (logfmt, parsed strictly) whose `target` is `name`."""
    return [
        line for line in exporter.log().splitlines() if logfmt.parse(line).get("target") == name
    ]


def assert_failed_alone(
    exporter: Exporter,
    metrics: Exposition,
    name: str,
    kind: str,
    healthy: RedisServer,
    namespace: str = "redis",
    scrapes: int = 1,
) -> str:
    """`name` is down with error `kind` and a logged hint; the healthy target is up. The line."""
    assert metrics.value(f"{namespace}_up", instance=name) == 0
    assert scrape_errors(metrics, name) == {kind: scrapes}
    assert metrics.get(f"{namespace}_uptime_in_seconds", instance=name) == []
    assert metrics.value("redis_up", instance=instance(healthy)) == 1
    assert metrics.value("redis_memory_used_bytes", instance=instance(healthy)) > 0
    assert scrape_errors(metrics, instance(healthy)) == {}
    lines = [line for line in log_lines(exporter, name) if logfmt.parse(line).get("error") == kind]
    assert lines, f"no log line for {name} with error={kind}:\n{exporter.log()}"
    assert ERROR_HINTS[kind] in logfmt.parse(lines[-1])["hint"], lines[-1]
    return lines[-1]


# Peers that are not Redis, or stop talking.


@pytest.mark.parametrize(
    ("behaviour", "kind"),
    [
        (hostile.speaks_http, "protocol"),
        (hostile.sends_garbage, "protocol"),
        (hostile.never_answers, "timeout"),
        (hostile.hangs_up, "connect"),
        (hostile.cuts_info_reply, "timeout"),
    ],
    ids=["speaks-http", "garbage", "never-answers", "hangs-up", "reply-cut-then-stalls"],
)
def test_peer_that_is_not_a_working_redis_is_down_and_costs_no_other_target(
    redis_server: RedisServer,
    start_exporter: StartExporter,
    start_hostile: StartHostile,
    behaviour: Callable[[socket.socket, HostileServer], None],
    kind: str,
) -> None:
    peer = start_hostile(behaviour)
    exporter = beside_healthy(start_exporter, redis_server, f"redis://{peer.address}")
    for scrape in (1, 2):  # and again: a broken connection must not wedge the next scrape
        metrics = timed_metrics(exporter)
        assert_failed_alone(exporter, metrics, peer.address, kind, redis_server, scrapes=scrape)
    assert peer.connections >= 1  # the exporter did reach it: the failure is the peer's


def test_memcached_stats_reply_cut_mid_line_times_out_alone(
    redis_server: RedisServer, start_exporter: StartExporter, start_hostile: StartHostile
) -> None:
    peer = start_hostile(hostile.memcached_cuts_stats_reply)
    exporter = beside_healthy(start_exporter, redis_server, f"memcached://{peer.address}")
    metrics = timed_metrics(exporter)
    assert_failed_alone(exporter, metrics, peer.address, "timeout", redis_server, "memcached")
    assert metrics.get("memcached_uptime_seconds", instance=peer.address) == []


def test_tls_handshake_trickled_a_byte_at_a_time_is_bounded_by_the_timeout(
    redis_server: RedisServer, start_exporter: StartExporter, start_hostile: StartHostile
) -> None:
    """Each byte arrives within the socket timeout, so only a deadline for the whole
    handshake stops it: /metrics and /scrape alike must give up after about 1 s."""
    peer = start_hostile(hostile.trickles_tls_handshake)
    target = f"rediss://{peer.address}"
    exporter = beside_healthy(start_exporter, redis_server, target)
    metrics = timed_metrics(exporter)
    assert metrics.value("redis_up", instance=peer.address) == 0
    assert metrics.value("redis_up", instance=instance(redis_server)) == 1
    assert sum(scrape_errors(metrics, peer.address).values()) == 1  # counted, whatever the kind
    assert log_lines(exporter, peer.address), "no log line for the trickling target"
    start = time.monotonic()
    status, body = exporter.get(f"/scrape?target={peer.address}", timeout=BOUND + 5)
    elapsed = time.monotonic() - start
    assert status == 200, body
    assert elapsed < BOUND, f"/scrape took {elapsed:.1f}s with a {TIMEOUT:g}s timeout"
    assert Exposition(body).value("redis_up") == 0


# Redis error replies to every command, as proxies and managed services send them.


@pytest.mark.parametrize(
    ("reply", "kind", "advice"),
    [
        (hostile.NOAUTH, "auth", "password"),
        # INFO works on a real server while it loads (see the real LOADING test below),
        # but proxies and older forks answer LOADING to everything. The server is fine
        # and will answer soon: checking ACLs, as the "command" hint says, would mislead.
        (hostile.LOADING, "loading", "loading"),
        (hostile.BUSY, "script", "SCRIPT KILL"),
    ],
    ids=["noauth", "loading", "busy"],
)
def test_every_command_refused_with_an_error_reply_names_the_cause(
    redis_server: RedisServer,
    start_exporter: StartExporter,
    start_hostile: StartHostile,
    reply: bytes,
    kind: str,
    advice: str,
) -> None:
    peer = start_hostile(hostile.refuses_everything(reply))
    exporter = beside_healthy(start_exporter, redis_server, f"redis://{peer.address}")
    metrics = timed_metrics(exporter)
    assert metrics.value("redis_up", instance=peer.address) == 0
    assert metrics.value("redis_up", instance=instance(redis_server)) == 1
    errors = scrape_errors(metrics, peer.address)
    assert errors == {kind: 1}, f"{reply!r} counted as {errors}; the hint must fit the cause"
    line = assert_failed_alone(exporter, metrics, peer.address, kind, redis_server)
    assert reply[1:].split(b" ")[0].decode() in line  # the server's own word is in the message
    assert advice.lower() in line.lower()


# Real servers.


def test_rediss_to_a_plain_port_is_a_tls_error(
    redis_server: RedisServer, start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    plain = start_redis()
    exporter = beside_healthy(start_exporter, redis_server, f"rediss://127.0.0.1:{plain.port}")
    metrics = timed_metrics(exporter)
    assert_failed_alone(exporter, metrics, instance(plain), "tls", redis_server)


def test_redis_to_a_tls_port_is_down_with_a_hint_about_tls_or_the_port(
    redis_server: RedisServer,
    start_redis: StartRedis,
    start_exporter: StartExporter,
    tls_certs: dict[str, str],
) -> None:
    """A TLS server drops a plain client without a word: all we see is a closed connection."""
    secure = start_redis(tls=tls_certs)
    exporter = beside_healthy(start_exporter, redis_server, f"redis://127.0.0.1:{secure.port}")
    metrics = timed_metrics(exporter)
    kinds = scrape_errors(metrics, instance(secure))
    assert list(kinds) in (["connect"], ["protocol"], ["tls"]), kinds
    assert_failed_alone(exporter, metrics, instance(secure), next(iter(kinds)), redis_server)


def test_wrong_password_is_an_auth_error_beside_a_healthy_target(
    redis_server: RedisServer, start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    locked = start_redis(password="right-pw-5521")
    exporter = beside_healthy(
        start_exporter,
        redis_server,
        f"redis://:wrong-pw-8812@127.0.0.1:{locked.port}",  # the healthy one has none
    )
    metrics = timed_metrics(exporter)
    line = assert_failed_alone(exporter, metrics, instance(locked), "auth", redis_server)
    assert "wrong-pw-8812" not in exporter.log() + metrics.text and "right-pw-5521" not in line


def test_noauth_from_a_requirepass_server_without_a_configured_password(
    redis_server: RedisServer, start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    locked = start_redis(password="not-given-pw-3390")
    exporter = beside_healthy(start_exporter, redis_server, locked.uri)
    metrics = timed_metrics(exporter)
    line = assert_failed_alone(exporter, metrics, instance(locked), "auth", redis_server)
    assert "NOAUTH" in line


def test_loading_server_is_up_with_loading_metrics_and_no_error(
    redis_server: RedisServer, start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    """INFO, CONFIG, SLOWLOG and LATENCY all work while Redis loads its RDB file.

    key-load-delay (µs per key) and a small events interval are the knobs Redis'
    own test suite uses to keep a server in LOADING long enough to look at it.
    """
    server = start_redis(
        "--enable-debug-command",
        "yes",
        "--key-load-delay",
        "50",
        "--loading-process-events-interval-bytes",
        "1024",
    )
    admin = server.client()
    admin.execute_command("DEBUG", "POPULATE", "100000")  # ~5 s of loading at 50 µs a key
    admin.save()
    admin.close()
    exporter = beside_healthy(start_exporter, redis_server, server.uri)
    assert timed_metrics(exporter).value("redis_up", instance=instance(server)) == 1
    args = list(server.proc.args)
    server.stop()
    Process.__init__(server, args, server.workdir, f"redis-{server.port}")  # no wait for PING

    def loading() -> bool:
        with server.client(socket_timeout=1) as client:
            return client.info("persistence")["loading"] == 1

    wait_for(loading, what="redis-server to start loading")
    metrics = timed_metrics(exporter)
    assert metrics.value("redis_up", instance=instance(server)) == 1
    assert metrics.value("redis_loading_dump_file", instance=instance(server)) == 1
    assert metrics.value("redis_up", instance=instance(redis_server)) == 1
    assert scrape_errors(metrics, instance(server)) == {}
    with server.client(socket_timeout=1) as client:
        assert client.info("persistence")["loading"] == 1, "loading ended too soon to tell"


def test_busy_script_gives_up_zero_with_a_hint_to_kill_it(
    redis_server: RedisServer, start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis("--busy-reply-threshold", "100")
    exporter = beside_healthy(start_exporter, redis_server, server.uri)
    assert timed_metrics(exporter).value("redis_up", instance=instance(server)) == 1
    runner = server.client(socket_timeout=30)
    outcome: list[BaseException] = []

    def spin() -> None:
        try:
            runner.eval("while true do end", 0)
        except redis.ResponseError as exc:  # "ERR ... Script killed by user"
            outcome.append(exc)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    try:
        wait_for(lambda: _busy(server), what="the script to make the server BUSY")
        metrics = timed_metrics(exporter)
        assert metrics.value("redis_up", instance=instance(server)) == 0
        assert metrics.value("redis_up", instance=instance(redis_server)) == 1
        kinds = scrape_errors(metrics, instance(server))
        assert "command" not in kinds, "BUSY is not an ACL problem; the 'command' hint misleads"
        (kind,) = kinds
        line = assert_failed_alone(exporter, metrics, instance(server), kind, redis_server)
        assert "BUSY" in line and "SCRIPT KILL" in line.split("hint=")[1]
    finally:
        with server.client(socket_timeout=5) as admin:
            wait_for(lambda: admin.script_kill(), what="SCRIPT KILL")
        thread.join(timeout=10)
    assert outcome and "killed" in str(outcome[0]).lower()
    assert timed_metrics(exporter).value("redis_up", instance=instance(server)) == 1


def _busy(server: RedisServer) -> bool:
    with server.client(socket_timeout=1) as client:
        try:
            client.ping()
        except redis.exceptions.BusyLoadingError:
            return True
        except redis.ResponseError as exc:
            return "BUSY" in str(exc)
    return False


def test_out_of_memory_server_is_still_up_and_shows_oom_errors(
    redis_server: RedisServer, start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis("--maxmemory", "1mb", "--maxmemory-policy", "noeviction")
    client = server.client()
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        for i in range(10_000):
            client.set(f"fill:{i}", "x" * 1024)
    exporter = beside_healthy(start_exporter, redis_server, server.uri)
    metrics = timed_metrics(exporter)
    name = instance(server)
    assert metrics.value("redis_up", instance=name) == 1
    assert metrics.value("redis_errors_total", instance=name, err="OOM") >= 1
    assert metrics.value("redis_config_maxmemory", instance=name) == 1024 * 1024
    assert metrics.value("redis_db_keys", instance=name, db="db0") > 0
    assert scrape_errors(metrics, name) == {}
    assert metrics.value("redis_up", instance=instance(redis_server)) == 1


def test_name_that_does_not_resolve_is_a_connect_error_within_the_timeout(
    redis_server: RedisServer, start_exporter: StartExporter
) -> None:
    name = "does-not-exist.invalid:6379"  # .invalid never resolves (RFC 6761)
    exporter = beside_healthy(start_exporter, redis_server, f"redis://{name}")
    metrics = timed_metrics(exporter)
    line = assert_failed_alone(exporter, metrics, name, "connect", redis_server)
    assert "does-not-exist.invalid" in line


def test_more_hung_targets_than_starting_threads_do_not_hold_up_the_healthy_ones(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    hung = [start_redis() for _ in range(10)]  # more than the threads a scrape starts with
    healthy = [start_redis() for _ in range(3)]
    targets = [arg for server in hung + healthy for arg in ("--target", server.uri)]
    exporter = start_exporter(*targets, "--timeout", f"{TIMEOUT:g}s")
    assert sum(exporter.metrics().get("redis_up")) == 13
    for server in hung:
        server.pause()
    try:
        metrics = timed_metrics(exporter)
        for server in healthy:
            assert metrics.value("redis_up", instance=instance(server)) == 1
        for server in hung:
            assert metrics.value("redis_up", instance=instance(server)) == 0
            assert scrape_errors(metrics, instance(server)) == {"timeout": 1}
    finally:
        for server in hung:
            server.resume()
