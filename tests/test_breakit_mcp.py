"""Break-it tests of `cachescope mcp` from the outside: smuggled targets, secrets, hostile peers.

Each test starts its own servers on free loopback ports and `cachescope mcp` over stdio
with the SDK's own client. A test marked `# BROKEN:` shows a promise that does not hold.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hostile import NESTED_ARRAYS, HostileServer, never_answers, redis_like
from mcp.shared.exceptions import MCPError
from mcpstdio import StdioSession, text
from servers import RedisServer
from topology_servers import Cluster

pytestmark = pytest.mark.live

SECRET = "cfgpw-Zq81x-breakit"
ACL_PASSWORD = "aclpw-Mm42k-breakit"
ALLOW_PASSWORD = "allowpw-Kk55p-breakit"
VALUE = "VAL-distinct-9f8e7d"
# README: "Each tool runs under a time limit (30 s, plus the interval for analyze_target)".
TOOL_LIMIT = 30.0


def bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


def array(items: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(items)


@pytest.fixture
def trap() -> Iterator[HostileServer]:
    server = HostileServer(never_answers)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """A password Redis with distinctive values and a sampler, an ACL Redis, an allowed one."""
    workdir = tmp_path_factory.mktemp("breakit-mcp")
    main = RedisServer(password=SECRET)
    acl = RedisServer()
    allowed = RedisServer(password=ALLOW_PASSWORD)
    session = None
    monitor = None
    try:
        acl_client = acl.client()
        acl_client.execute_command("ACL", "SETUSER", "mon", "on", f">{ACL_PASSWORD}", "+@all", "~*")
        acl_client.execute_command("ACL", "SETUSER", "default", "off")
        client = main.client(password=SECRET)
        pipe = client.pipeline(transaction=False)
        for i in range(200):
            pipe.set(f"user:{i}", f"{VALUE}{i}")
            pipe.hset(f"h:{i}", "field", VALUE)
        pipe.set("big:str", VALUE * 20000)
        pipe.rpush("big:list", *[VALUE] * 2000)
        pipe.execute()
        for _ in range(50):
            client.xadd("st:orders", {"payload": VALUE})
        client.xgroup_create("st:orders", "g1", id="0")
        client.xreadgroup("g1", "c1", {"st:orders": ">"}, count=3)
        (workdir / "acl.pw").write_text(ACL_PASSWORD + "\n")
        (workdir / "allow.pw").write_text(ALLOW_PASSWORD + "\n")
        config = workdir / "cachescope.yml"
        config.write_text(
            "targets:\n"
            f"  - uri: redis://:{SECRET}@127.0.0.1:{main.port}\n"
            "    name: main\n"
            "    keyspace: {interval: 1h, keys_per_cycle: 10000, top: 5}\n"
            f"  - uri: redis://mon@127.0.0.1:{acl.port}\n"
            "    name: acl\n"
            f"    password_file: {workdir / 'acl.pw'}\n"
            "scrape:\n"
            "  allow:\n"
            f"    - pattern: redis://127.0.0.1:{allowed.port}\n"
            f"      password_file: {workdir / 'allow.pw'}\n"
        )
        monitor_log = workdir / "monitor.txt"
        monitor = subprocess.Popen(
            ["redis-cli", "-p", str(main.port), "-a", SECRET, "--no-auth-warning", "MONITOR"],
            stdout=open(monitor_log, "w"),  # noqa: SIM115 (open while MONITOR runs)
            stderr=subprocess.STDOUT,
        )
        time.sleep(0.3)
        session = StdioSession("--config.file", str(config), workdir=workdir)
        yield {
            "session": session,
            "main": main,
            "allowed": allowed,
            "monitor": monitor,
            "monitor_log": monitor_log,
        }
    finally:
        if session is not None:
            session.close()
        if monitor is not None:
            monitor.terminate()
            monitor.wait(10)
        for server in (main, acl, allowed):
            server.stop()


def smuggled(main: int, allowed: int, trap: int) -> list[str]:
    """Target texts that name a configured or allowed address and try to reach the trap."""
    return [
        f"redis://127.0.0.1:{main}@127.0.0.1:{trap}",
        f"redis://127.0.0.1:{allowed}@127.0.0.1:{trap}",
        f"redis://main@127.0.0.1:{trap}",
        f"redis://127.0.0.1:{trap}#@127.0.0.1:{allowed}",
        f"redis://127.0.0.1:{allowed}#@127.0.0.1:{trap}",
        f"redis://127.0.0.1:{allowed}/../@127.0.0.1:{trap}",
        f"redis://127.0.0.1:{trap}:{allowed}",
        f"redis://127.1:{trap}",
        f"redis://0x7f.0.0.1:{trap}",
        f"redis://2130706433:{trap}",
        f"redis://127.0.0.1.:{trap}",
        f"redis://[::ffff:127.0.0.1]:{trap}",
        f"redis://127.0.0.1%2e:{trap}",
        f"memcached://127.0.0.1:{trap}",
        f"rediss://127.0.0.1:{trap}",
        f"127.0.0.1:{trap}",
        f"unix:///tmp/../tmp/trap-{trap}.sock",
        " main",
        "MAIN",
        "main\x00",
    ]


@pytest.mark.parametrize("tool", ["analyze_target", "topology", "keyspace_report"])
def test_smuggled_targets_are_refused_and_the_trap_sees_no_connection(
    fleet: dict[str, object], trap: HostileServer, tool: str
) -> None:
    session: StdioSession = fleet["session"]  # type: ignore[assignment]
    main: RedisServer = fleet["main"]  # type: ignore[assignment]
    allowed: RedisServer = fleet["allowed"]  # type: ignore[assignment]
    for target in smuggled(main.port, allowed.port, trap.port):
        arguments: dict[str, object] = {"target": target}
        if tool == "analyze_target":
            arguments["interval"] = "1s"
        message = session.refused(tool, **arguments)
        assert "\n" not in message and "Traceback" not in message, (target, message)
    assert trap.connections == 0 and trap.received == b""


def test_the_allowed_address_gets_its_password_but_never_shows_it(
    fleet: dict[str, object],
) -> None:
    session: StdioSession = fleet["session"]  # type: ignore[assignment]
    allowed: RedisServer = fleet["allowed"]  # type: ignore[assignment]
    report = session.ok("analyze_target", target=f"redis://127.0.0.1:{allowed.port}", interval="1s")
    assert report["status"] == "success"
    assert ALLOW_PASSWORD not in str(report)


def test_no_password_or_key_value_in_any_answer_or_on_stderr(fleet: dict[str, object]) -> None:
    session: StdioSession = fleet["session"]  # type: ignore[assignment]
    session.ok("list_targets")
    session.ok("fleet_health")
    for name in ("main", "acl"):
        session.ok("analyze_target", target=name, interval="1s")
        session.ok("topology", target=name)
    deadline = time.monotonic() + 30
    while True:  # the sampler's first cycle
        report = session.call("keyspace_report", target="main")
        if not report.is_error and "big:str" in text(report):
            break
        assert time.monotonic() < deadline, text(report)
        time.sleep(0.5)
    session.read_resource("cachescope://thresholds")
    session.get_prompt("diagnose_slow_cache", target="main")
    session.refused("explain_alert", alertname=SECRET)  # (an echo of its own argument is fine)
    seen = "\n".join(session.answers[:-1]) + session.stderr()
    for secret in (SECRET, ACL_PASSWORD, ALLOW_PASSWORD, VALUE):
        assert secret not in seen, secret


READ_SET = {"AUTH", "HELLO", "CLIENT", "INFO", "ACL", "PING", "SELECT"}
SAMPLER = {"SCAN", "RANDOMKEY", "TYPE", "MEMORY", "PTTL", "STRLEN", "HLEN", "LLEN", "XLEN"}
SAMPLER |= {"SCARD", "ZCARD", "XINFO", "OBJECT"}


def test_monitor_sees_only_read_commands_and_no_keys_or_debug(fleet: dict[str, object]) -> None:
    session: StdioSession = fleet["session"]  # type: ignore[assignment]
    session.ok("analyze_target", target="main", interval="1s")
    session.ok("topology", target="main")
    session.call("keyspace_report", target="main")
    time.sleep(0.5)
    log: Path = fleet["monitor_log"]  # type: ignore[assignment]
    commands: dict[str, set[str]] = {}
    for line in log.read_text().splitlines():
        parts = line.split('"')
        if len(parts) >= 2:
            sub = parts[3].upper() if len(parts) > 3 else ""
            commands.setdefault(parts[1].upper(), set()).add(sub)
    assert commands, "MONITOR saw nothing"
    assert set(commands) <= READ_SET | SAMPLER, commands
    assert commands.get("CLIENT", set()) <= {"SETNAME"} and commands.get("ACL", set()) <= {"WHOAMI"}
    assert SECRET not in log.read_text()  # Redis redacts AUTH; the sampler reads no value


# --- hostile peers ------------------------------------------------------------------------


def sentinel_of(masters: int) -> Callable[[list[bytes]], bytes]:
    """A fake sentinel that answers SENTINEL MASTERS with `masters` master sets."""
    info = b"# Server\r\nredis_version:7.0.15\r\nredis_mode:sentinel\r\n# Sentinel\r\n"
    info += b"sentinel_masters:%d\r\n" % masters
    info += b"".join(
        b"master%d:name=m%d,status=ok,address=10.0.%d.%d:6379,slaves=1,sentinels=3\r\n"
        % (i, i, i >> 8 & 255, i & 255)
        for i in range(masters)
    )
    fields = [b"flags", b"master", b"quorum", b"2", b"num-slaves", b"1", b"port", b"6379"]
    reply = array(
        [
            array([bulk(f) for f in [b"name", b"m%d" % i, b"ip", b"10.0.0.1", *fields]])
            for i in range(masters)
        ]
    )
    slave = [b"name", b"r", b"ip", b"10.1.0.1", b"port", b"6379", b"flags", b"slave"]
    replica = array([array([bulk(f) for f in slave])])

    def answer(command: list[bytes]) -> bytes:
        verb = command[0].upper()
        if verb == b"INFO":
            return bulk(info)
        if verb == b"SENTINEL" and len(command) > 1:
            sub = command[1].upper()
            if sub == b"MASTERS":
                return reply
            if sub in (b"REPLICAS", b"SLAVES"):
                return replica
            return array([])
        return b"+OK\r\n"

    return answer


def test_analyze_a_sentinel_with_thousands_of_masters_within_its_time_limit(
    tmp_path: Path,
) -> None:
    # Broke: figures scanned every series per master set (quadratic); the limit ignored the interval
    # Was: analyze_target of a fake sentinel with 5000 master sets took about 48 s
    # with interval "1s", past the README's bound of 30 s plus the interval.
    sentinel = HostileServer(redis_like(sentinel_of(5000)))
    config = tmp_path / "cachescope.yml"
    config.write_text(f"targets:\n  - uri: redis://{sentinel.address}\n    name: sentinel\n")
    session = StdioSession("--config.file", str(config), workdir=tmp_path)
    try:
        started = time.monotonic()
        result = session.call("analyze_target", target="sentinel", interval="1s")
        took = time.monotonic() - started
        assert "Traceback" not in text(result)
        assert took < TOOL_LIMIT + 1 + 3, f"analyze_target took {took:.1f}s"
    finally:
        session.close()
        sentinel.stop()


def cluster_of(primaries: int) -> Callable[[list[bytes]], bytes]:
    """A fake cluster node: `primaries` primaries covering all 16384 slots, one replica each.

    CLUSTER NODES lists the replicas first, as its arbitrary order may.
    """
    info = b"# Server\r\nredis_version:7.0.15\r\nredis_mode:cluster\r\n"
    info += b"# Replication\r\nrole:master\r\n# Cluster\r\ncluster_enabled:1\r\n"
    bounds = [i * 16384 // primaries for i in range(primaries + 1)]
    lines = [
        b"%040x 10.1.%d.%d:6379@16379 slave %040x 0 0 1 connected\n"
        % (primaries + i, i >> 8, i & 255, i)
        for i in range(primaries)
    ]
    lines += [
        b"%040x 10.0.%d.%d:6379@16379 %smaster - 0 0 1 connected %d-%d\n"
        % (i, i >> 8, i & 255, b"myself," if i == 0 else b"", bounds[i], bounds[i + 1] - 1)
        for i in range(primaries)
    ]
    nodes = b"".join(lines)
    state = b"cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n"
    state += b"cluster_known_nodes:%d\r\ncluster_size:%d\r\n" % (2 * primaries, primaries)

    def answer(command: list[bytes]) -> bytes:
        verb = command[0].upper()
        if verb == b"INFO":
            return bulk(info)
        if verb == b"CLUSTER" and len(command) > 1:
            sub = command[1].upper()
            if sub == b"NODES":
                return bulk(nodes)
            if sub == b"INFO":
                return bulk(state)
        return b"-ERR unknown command\r\n"

    return answer


@pytest.fixture
def big_cluster(tmp_path: Path) -> Iterator[StdioSession]:
    """`cachescope mcp` configured with one node of a 1200-node cluster."""
    node = HostileServer(redis_like(cluster_of(600)))
    config = tmp_path / "cachescope.yml"
    config.write_text(f"targets:\n  - uri: redis://{node.address}\n    name: cluster\n")
    session = StdioSession("--config.file", str(config), workdir=tmp_path)
    yield session
    session.close()
    node.stop()


def test_topology_of_a_large_cluster_counts_every_slot_even_when_the_list_is_clipped(
    big_cluster: StdioSession,
) -> None:
    # Broke: primaries and slotsCovered were counted from the clipped node list, not every node
    # Was: with 1200 nodes (600 primaries covering all 16384 slots, 600 replicas),
    # the node list is clipped at 1000 with "more": 200, and "primaries" and
    # "slotsCovered" are counted from the clipped list only (400 and 10922), so a
    # healthy cluster reads as one missing a third of its slots.
    answer = big_cluster.ok("topology", target="cluster")
    assert answer["slotsCovered"] == 16384, {k: answer[k] for k in answer if k != "nodes"}
    assert answer["primaries"] == 600 and answer["replicas"] == 600


def test_topology_of_a_large_cluster_is_not_an_answer_over_256_kib(
    big_cluster: StdioSession,
) -> None:
    # Broke: size measured as compact JSON, not text + structured as received; list not cut to fit
    # Was: the topology of a 1200-node cluster comes back as a text block of about
    # 275,000 bytes (plus the same again as structured content), over the README's
    # "an answer over 256 KiB is refused with what to ask instead".
    result = big_cluster.call("topology", target="cluster")
    size = len(text(result).encode())
    assert result.is_error or size <= 256 * 1024, f"{size} bytes"


def test_a_cluster_seed_with_discovery_answers_to_its_configured_name(tmp_path: Path) -> None:
    # Broke: a cluster seed's name was dropped once its nodes were known; nothing resolved it
    # Was: with the README's own example (`name: orders`, `discover: cluster`),
    # topology("orders") and analyze_target("orders") are refused with "target
    # redis://orders:6379 is not in the config and matches no allow pattern": the name
    # is in the config, list_targets shows only the nodes (cluster "orders"), and an
    # assistant has no way to ask about the cluster by the name its operator gave it.
    # A sentinel seed with `discover: sentinel` keeps its name.
    cluster = Cluster(size=3, replicas=0)
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"targets:\n  - uri: {cluster.nodes[0].uri}\n    name: orders\n    discover: cluster\n"
    )
    session = StdioSession("--config.file", str(config), workdir=tmp_path)
    try:
        rows = session.ok("list_targets")["targets"]
        assert {row["cluster"] for row in rows} == {"orders"}
        result = session.call("topology", target="orders")
        assert not result.is_error, text(result)
        assert result.structured_content["slotsCovered"] == 16384
        assert not session.call("analyze_target", target="orders", interval="1s").is_error
    finally:
        session.close()
        cluster.stop()


def peak_rss_mib(parent: int, config: Path) -> float:
    """VmHWM of the `cachescope mcp` child of this process started with `config`, in MiB."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().split(") ")[1].split()[1])
            command = (entry / "cmdline").read_bytes()
            status = (entry / "status").read_text()
        except (OSError, IndexError):
            continue
        if ppid == parent and str(config).encode() in command:
            line = next(x for x in status.splitlines() if x.startswith("VmHWM"))
            return int(line.split()[1]) / 1024
    raise AssertionError("no cachescope mcp child found")


def test_six_hostile_targets_do_not_make_the_process_large(tmp_path: Path) -> None:
    # Broke: the guard let tiny elements cost ~8x their wire bytes once parsed; now charged 56 each
    # Was: six configured "Redis" servers that answer INFO with nested arrays of tiny
    # elements (each reply stopped at the 32 MiB round-trip cap) take one fleet_health
    # to a peak of about 370 MiB and two to 570-680 MiB, from 75 MiB at start: the
    # byte cap does not bound the objects parsed from those bytes (roughly 100 MiB per
    # target), so a few hostile peers make `cachescope mcp` use gigabytes.
    hostiles = [HostileServer(NESTED_ARRAYS) for _ in range(6)]
    config = tmp_path / "cachescope.yml"
    config.write_text(
        "targets:\n"
        + "".join(f"  - uri: redis://{h.address}\n    name: h{i}\n" for i, h in enumerate(hostiles))
    )
    session = StdioSession("--config.file", str(config), workdir=tmp_path)
    try:
        for _ in range(2):
            health = session.ok("fleet_health")
            assert all(line["status"] == "error" for line in health["targets"])
        peak = peak_rss_mib(os.getpid(), config)
        # 75 MiB at start, and six round trips of at most 32 MiB each, with room to spare.
        assert peak < 75 + 6 * 32 + 100, f"peak RSS {peak:.0f} MiB"
    finally:
        session.close()
        for hostile in hostiles:
            hostile.stop()


def test_a_prompt_is_bounded_and_does_not_take_a_target_the_tools_refuse(
    fleet: dict[str, object],
) -> None:
    # Broke: the prompt's target was neither bounded nor checked as the tools check a target
    # Was: diagnose_slow_cache takes any text as its target: a 5 MB argument comes
    # back as a prompt of 20 MB (the target is written four times), and a target with a
    # password (`redis://:pw@host`) is written into the prompt four times, telling the
    # assistant to call tools that refuse it. The tools refuse both in one line.
    session: StdioSession = fleet["session"]  # type: ignore[assignment]
    # (The test first required a prompt back; a one-line refusal bounds it as well, and
    # is what the tools do with a target they cannot name.)
    try:
        huge = session.get_prompt("diagnose_slow_cache", target="x" * 5_000_000)
    except MCPError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 1000, str(exc)[:200]
    else:
        size = len(huge.messages[0].content.text)
        assert size <= 256 * 1024, f"a prompt of {size} characters"
    leaked = f"redis://:{SECRET}@127.0.0.1:1"
    try:
        prompt = session.get_prompt("diagnose_slow_cache", target=leaked)
    except MCPError:
        return  # refused, as the tools refuse it
    assert SECRET not in prompt.messages[0].content.text
