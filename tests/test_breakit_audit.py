"""Break-it tests of the configuration audit (issue #23), from the outside.

Every test runs `python -m cachescope analyze` as a user would, against real
redis-server processes (or a proxy in front of one) on free loopback ports, and
validates the JSON against docs/analyze-report.schema.json. Tests marked
`# Broke:` failed on the code they were written against: each shows a promise of
the issue or README that did not hold.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hiredis
import jsonschema
import pytest
from hostile import HostileServer, redis_like
from servers import RedisServer, wait_for_link_up

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.live

SCHEMA = json.loads((ROOT / "docs" / "analyze-report.schema.json").read_text())


def run_analyze(*args: str, timeout: float = 90) -> tuple[int, Any, str]:
    """`cachescope analyze --format json` in a child process: exit code, report, stderr."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "exporter"))
    result = subprocess.run(
        [sys.executable, "-m", "cachescope", "analyze", "--interval", "1s", "--format", "json"]
        + list(args),
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    return result.returncode, report, result.stderr


def findings(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rec["check"]: rec for rec in report["recommendations"] if "check" in rec}


def fill(server: RedisServer, count: int, size: int = 500, ttl: int | None = None) -> None:
    client = server.client()
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        pipe.set(f"k:{i}", "x" * size, ex=ttl)
    pipe.execute(raise_on_error=False)


# --- fix lines --------------------------------------------------------------

# Each case: server arguments that trip one check (on top of a cache configured as the
# practice says), keys to write (count, with a TTL or not), and the check.
FIX_CASES = [
    (
        ("--maxmemory-policy", "volatile-lru", "--maxmemory", "64mb"),
        False,
        "volatile-policy-without-ttls",
    ),
    (("--maxmemory-policy", "noeviction", "--maxmemory", "0"), False, "store-without-persistence"),
    (("--appendonly", "yes", "--appendfsync", "always"), True, "aof-always-on-cache"),
    (("--protected-mode", "no"), True, "open-without-auth"),
]


@pytest.mark.parametrize(("args", "ttl", "check"), FIX_CASES, ids=[c[2] for c in FIX_CASES])
def test_fix_is_an_exact_command_that_clears_the_finding(
    args: tuple[str, ...], ttl: bool, check: str
) -> None:
    # Broke: fix lines carried "# ..." remarks and "; then": not commands the server accepts
    # Was: the fix of these checks is not "the exact CONFIG SET or config-file line": it
    # carries a trailing "# ..." remark (and open-without-auth two commands joined by "; then"),
    # which redis-cli sends as arguments: "CONFIG SET maxmemory-policy allkeys-lru  # or give
    # the keys a TTL" is refused with "syntax error" (7.0, Valkey 8.1) or "Unknown subcommand"
    # (6.2), the setting is unchanged, and the finding stays. In redis.conf an inline "#" is no
    # comment either.
    base = ("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru", "--timeout", "300")
    server = RedisServer(*base, *args)
    try:
        fill(server, 2000, ttl=3600 if ttl else None)
        _, report, _ = run_analyze(server.uri)
        finding = findings(report)[check]
        assert finding["priority"] in ("low", "medium", "high")
        words = shlex.split(finding["fix"])
        with server.client() as client:
            reply = client.execute_command(*words)  # raises ResponseError on a bad line
        assert reply in (b"OK", "OK"), reply
        if check == "open-without-auth":
            return  # the server now needs the password the fix chose
        _, after, _ = run_analyze(server.uri)
        assert check not in findings(after), findings(after)[check]
    finally:
        server.stop()


# --- dangerous commands --------------------------------------------------------


def test_dangerous_commands_check_does_not_pass_silently_for_a_user_that_cannot_see_its_acl() -> (
    None
):
    # Broke: refused ACL DRYRUN/WHOAMI counted as checked; unreadable data now means notRun
    # Was: an application user `+@all -@admin` may run FLUSHALL, FLUSHDB and KEYS (they are
    # @dangerous/@keyspace, not @admin) - the issue's very case "dangerous commands available to
    # the application user where ACLs are in use". It cannot run ACL GETUSER or ACL DRYRUN, so the
    # check cannot know; yet analyze lists dangerous-commands-allowed under audit.checked, not in
    # audit.notRun, and reports no finding: a clean bill of health from missing data.
    server = RedisServer("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
    try:
        with server.client() as admin:
            admin.execute_command(
                "ACL", "SETUSER", "app", "on", ">app-Secret-77", "~*", "+@all", "-@admin"
            )
        with server.client(username="app", password="app-Secret-77") as app:
            app.set("probe", "1")
            app.execute_command("KEYS", "nothing*")  # allowed: the user does hold KEYS
        _, report, stderr = run_analyze(f"redis://app:app-Secret-77@127.0.0.1:{server.port}")
        assert "app-Secret-77" not in json.dumps(report) + stderr
        not_run = {entry["check"] for entry in report["audit"]["notRun"]}
        assert (
            "dangerous-commands-allowed" in findings(report)
            or "dangerous-commands-allowed" in not_run
        ), report["audit"]
    finally:
        server.stop()


# --- replication rates ---------------------------------------------------------


@pytest.fixture
def idle_primary_with_replica() -> Iterator[RedisServer]:
    base = ("--maxmemory", "32mb", "--maxmemory-policy", "allkeys-lru", "--timeout", "300")
    primary = RedisServer(*base, "--repl-diskless-sync-delay", "0")
    replica = RedisServer(*base, "--replicaof", "127.0.0.1", str(primary.port))
    try:
        wait_for_link_up(replica)
        fill(primary, 30000, size=600, ttl=3600)  # a bulk load: ~20MB through the backlog
        wait = time.monotonic() + 10
        with primary.client() as client:
            while time.monotonic() < wait:  # the replica caught up: nothing is written any more
                info = client.info("replication")
                if info.get("slave0", {}).get("offset") == info["master_repl_offset"]:
                    break
                time.sleep(0.1)
        yield primary
    finally:
        replica.stop()
        primary.stop()


def test_replication_write_rate_is_the_sampled_one(idle_primary_with_replica: RedisServer) -> None:
    # Broke: write rate was master_repl_offset / uptime (lifetime), not the sample's delta
    # Was: repl-backlog-small (and replica-buffer-too-small) judge "the write rate" as
    # master_repl_offset / uptime, a lifetime average, not the rate of the sample: on a primary
    # that took a bulk load and now writes nothing (master_repl_offset the same before and after
    # the sample), the report says "repl-backlog-size 1MB covers 0.4 s of writes at 2.3MB/s" as a
    # medium finding and asks for a backlog of over 100mb on a 32mb cache.
    primary = idle_primary_with_replica
    with primary.client() as client:
        before = client.info("replication")["master_repl_offset"]
    _, report, _ = run_analyze(primary.uri)
    with primary.client() as client:
        after = client.info("replication")["master_repl_offset"]
    assert after - before < 10_000, "the primary was still being written to"
    for check in ("repl-backlog-small", "replica-buffer-too-small"):
        finding = findings(report).get(check)
        if finding is None:
            continue
        rate = finding["evidence"].get("write_bytes_per_second", 0)
        assert rate < 100_000, (check, finding["issue"], finding["evidence"])


# --- what held ---------------------------------------------------------------------


def test_healthy_lru_cache_evicting_at_its_limit_has_no_medium_finding() -> None:
    server = RedisServer(
        "--maxmemory", "16mb", "--maxmemory-policy", "allkeys-lru", "--timeout", "300"
    )
    try:
        fill(server, 40000, size=600, ttl=3600)
        with server.client() as client:
            assert client.info("stats")["evicted_keys"] > 0
        code, report, _ = run_analyze(server.uri)
        assert code == 0
        assert report["audit"]["notRun"] == []
        loud = {c: f["priority"] for c, f in findings(report).items() if f["priority"] != "low"}
        assert loud == {}
    finally:
        server.stop()


def test_secrets_stay_out_of_report_and_logs() -> None:
    server = RedisServer(
        "--masterauth",
        "mauth-Secret-42",
        "--maxmemory",
        "64mb",
        "--maxmemory-policy",
        "allkeys-lru",
        password="req-Secret-41",
    )
    try:
        with server.client() as admin:
            admin.execute_command(
                "ACL", "SETUSER", "mon", "on", ">mon-Secret-43", "~*", "+@all", "-config|set"
            )
        for uri in (
            f"redis://:req-Secret-41@127.0.0.1:{server.port}",
            f"redis://mon:mon-Secret-43@127.0.0.1:{server.port}",
        ):
            _, report, stderr = run_analyze(uri)
            text = json.dumps(report) + stderr
            for secret in ("req-Secret-41", "mauth-Secret-42", "mon-Secret-43"):
                assert secret not in text
    finally:
        server.stop()


def _encode(value: Any) -> bytes:
    if isinstance(value, hiredis.ReplyError):
        return b"-" + str(value).encode() + b"\r\n"
    if isinstance(value, int):
        return b":%d\r\n" % value
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, list):
        return b"*%d\r\n" % len(value) + b"".join(_encode(v) for v in value)
    return b"$%d\r\n%s\r\n" % (len(value), value)


def proxy_stalling_on(real: RedisServer, command: bytes) -> HostileServer:
    """A server that forwards everything to `real` but never answers `command`."""

    def behaviour(conn: socket.socket, server: HostileServer) -> None:
        upstream = socket.create_connection(("127.0.0.1", real.port))
        reader = hiredis.Reader(replyError=hiredis.ReplyError)

        def answer(cmd: list[bytes]) -> bytes | None:
            if cmd[0].upper() == command:
                return None
            upstream.sendall(
                b"*%d\r\n" % len(cmd) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in cmd)
            )
            while (reply := reader.gets()) is False:
                reader.feed(upstream.recv(1 << 20))
            return _encode(reply)

        try:
            redis_like(answer)(conn, server)
        finally:
            upstream.close()

    return HostileServer(behaviour)


@pytest.mark.parametrize("command", [b"CONFIG", b"RANDOMKEY"])
def test_stall_on_config_or_randomkey_is_bounded(command: bytes) -> None:
    real = RedisServer("--maxmemory", "32mb", "--maxmemory-policy", "allkeys-lru")
    hostile = proxy_stalling_on(real, command)
    try:
        real.client().set("a", "b", ex=100)
        started = time.monotonic()
        code, report, _ = run_analyze(f"redis://{hostile.address}", "--timeout", "2s")
        assert time.monotonic() - started < 20
        if report["status"] == "error":
            assert code == 3 and "timeout" in report["error"]
        else:
            assert code == 0
            assert report["audit"]["notRun"], "stalled settings must be reported as not run"
    finally:
        hostile.stop()
        real.stop()
