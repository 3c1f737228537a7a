"""Issue #25 from the outside: LATENCY HISTOGRAM as an operator and an attacker see it.

Real servers (Redis 6.2 / 7.0 / 8.2, Valkey 8.1) and a fake Redis 7 whose LATENCY HISTOGRAM
reply is hostile. Tests marked `# BROKEN:` fail on purpose: each shows a promise not kept.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict

import hostile
import pytest
import redis
from cachescope.redis.latency_histogram import LADDER
from hostile import INFO_HEAD, HostileServer
from matrix import REDIS_SERVERS, ServerBinary
from prometheus_client.parser import text_string_to_metric_families
from servers import Exposition, RedisServer, StartExporter

NAME = "redis_commands_latencies_usec"
WITH_HISTOGRAM = [binary for binary in REDIS_SERVERS if binary.has_latency_histogram]
WITHOUT_HISTOGRAM = [binary for binary in REDIS_SERVERS if not binary.has_latency_histogram]


def start(binary: ServerBinary, *extra: str) -> RedisServer:
    return RedisServer(*binary.module_args, *extra, binary=binary.require())


def buckets(metrics: Exposition, cmd: str, instance: str | None = None) -> dict[str, float]:
    return {
        labels["le"]: value
        for name, labels, value in metrics.samples
        if name == NAME + "_bucket"
        and labels.get("cmd") == cmd
        and (instance is None or labels.get("instance") == instance)
    }


def le_key(le: str) -> float:
    return math.inf if le == "+Inf" else float(le)


def assert_well_formed(metrics: Exposition) -> None:
    """Every histogram of the family: unique, cumulative, monotonic, +Inf == _count."""
    series: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    counts: dict[tuple[str, str], float] = {}
    for name, labels, value in metrics.samples:
        key = (labels.get("instance", ""), labels.get("cmd", ""))
        if name == NAME + "_bucket":
            assert labels["le"] not in series[key], f"duplicate le in {key}"
            series[key][labels["le"]] = value
        elif name == NAME + "_count":
            assert key not in counts, f"duplicate _count for {key}"
            counts[key] = value
    for key, values in series.items():
        ordered = [values[le] for le in sorted(values, key=le_key)]
        assert all(v >= 0 and not math.isnan(v) for v in ordered), (key, values)
        assert ordered == sorted(ordered), f"not monotonic: {key} {values}"
        assert values.get("+Inf") == counts.get(key), f"+Inf != _count for {key}"
    # And the whole exposition parses with the reference parser.
    list(text_string_to_metric_families(metrics.text))


def server_histogram(client: redis.Redis, cmd: str) -> dict[str, float]:
    """The server's buckets on the whole ladder: where Redis is silent, the count so far."""
    details = client.execute_command("LATENCY", "HISTOGRAM", cmd)[cmd.encode()]
    found = {int(bound): float(count) for bound, count in details[b"histogram_usec"].items()}
    assert set(found) <= set(LADDER), f"Redis printed bounds off the ladder: {found}"
    filled: dict[str, float] = {}
    running = 0.0
    for bound in LADDER:
        running = found.get(bound, running)
        filled[str(bound)] = running
    return {**filled, "+Inf": float(details[b"calls"])}


def error_replies(client: redis.Redis) -> int:
    return int(client.info("stats")["total_error_replies"])


# -- what held up on the real servers ------------------------------------------------------


@pytest.mark.parametrize("binary", WITH_HISTOGRAM, ids=lambda b: b.id)
def test_counts_match_latency_histogram_and_no_error_replies(
    binary: ServerBinary, servers: list[RedisServer], start_exporter: StartExporter
) -> None:
    """Redis 7.0 / 8.2 and Valkey 8.1: GET's buckets are the server's, to the bucket, and
    30 scrapes add no error reply."""
    servers.append(start(binary))
    client = servers[0].client()
    client.ping()
    for _ in range(200):
        client.get("k")
    client.execute_command("CLIENT", "LIST")
    errors = error_replies(client)
    exporter = start_exporter("--target", servers[0].uri)
    for _ in range(30):
        metrics = exporter.metrics()
        assert metrics.value("redis_up") == 1
    assert buckets(metrics, "get") == server_histogram(client, "get")
    assert buckets(metrics, "client|list")  # subcommands keep Redis' `|` name
    assert_well_formed(metrics)
    assert error_replies(client) == errors


@pytest.mark.parametrize("binary", WITHOUT_HISTOGRAM, ids=lambda b: b.id)
def test_redis_6_2_not_asked_and_no_error_replies(
    binary: ServerBinary, servers: list[RedisServer], start_exporter: StartExporter
) -> None:
    servers.append(start(binary))
    client = servers[0].client()
    client.ping()
    client.get("k")
    errors = error_replies(client)
    exporter = start_exporter("--target", servers[0].uri)
    for _ in range(30):
        metrics = exporter.metrics()
    assert metrics.value("redis_up") == 1
    assert NAME not in metrics.types
    assert error_replies(client) == errors


@pytest.mark.parametrize(
    "setup",
    [
        ("--rename-command", "LATENCY", ""),
        ("--rename-command", "LATENCY", "secret-latency"),
    ],
    ids=["renamed-away", "renamed"],
)
def test_latency_renamed_is_remembered(
    setup: tuple[str, ...], servers: list[RedisServer], start_exporter: StartExporter
) -> None:
    servers.append(RedisServer(*setup))
    client = servers[0].client()
    client.ping()
    exporter = start_exporter("--target", servers[0].uri)
    exporter.metrics()
    errors = error_replies(client)
    for _ in range(10):
        metrics = exporter.metrics()
        assert metrics.value("redis_up") == 1
    assert NAME not in metrics.types
    assert metrics.value("cachescope_target_capability", capability="latency_histogram") == 0
    assert error_replies(client) == errors


def test_acl_user_without_latency_is_remembered(
    servers: list[RedisServer], start_exporter: StartExporter
) -> None:
    servers.append(RedisServer())
    admin = servers[0].client()
    admin.execute_command(
        "ACL", "SETUSER", "watcher", "on", ">pw", "+@all", "-latency", "-debug", "~*"
    )
    admin.get("k")
    uri = f"redis://watcher:pw@127.0.0.1:{servers[0].port}"
    exporter = start_exporter("--target", uri)
    exporter.metrics()
    errors = error_replies(admin)
    for _ in range(10):
        metrics = exporter.metrics()
        assert metrics.value("redis_up") == 1
    assert NAME not in metrics.types
    assert metrics.value("cachescope_target_capability", capability="latency_histogram") == 0
    assert error_replies(admin) == errors


def test_acl_user_with_latency_latest_but_not_histogram(
    servers: list[RedisServer], start_exporter: StartExporter
) -> None:
    """An ACL that allows LATENCY LATEST only: the histogram refusal is remembered alone."""
    servers.append(RedisServer())
    admin = servers[0].client()
    admin.execute_command(
        "ACL", "SETUSER", "watcher", "on", ">pw", "+@all", "-latency", "+latency|latest", "~*"
    )
    uri = f"redis://watcher:pw@127.0.0.1:{servers[0].port}"
    exporter = start_exporter("--target", uri)
    exporter.metrics()
    errors = error_replies(admin)
    for _ in range(10):
        metrics = exporter.metrics()
        assert metrics.value("redis_up") == 1
    assert metrics.value("cachescope_target_capability", capability="latency_histogram") == 0
    assert metrics.value("cachescope_target_capability", capability="latency") == 1
    assert error_replies(admin) == errors


@pytest.mark.parametrize(
    ("args", "env", "exported"),
    [
        ((), {"REDIS_EXPORTER_EXCLUDE_LATENCY_HISTOGRAM_METRICS": "false"}, True),
        ((), {"REDIS_EXPORTER_EXCLUDE_LATENCY_HISTOGRAM_METRICS": "1"}, False),
        ((), {"CACHESCOPE_REDIS_LATENCY_HISTOGRAMS": "false"}, False),
        (("--no-redis.latency-histograms",), {}, False),
        (("--redis.latency-histograms",), {"CACHESCOPE_REDIS_LATENCY_HISTOGRAMS": "false"}, True),
    ],
    ids=["exclude-false", "exclude-1", "cachescope-env-off", "flag-off", "flag-beats-env"],
)
def test_flag_and_variable_combinations(
    args: tuple[str, ...],
    env: dict[str, str],
    exported: bool,
    servers: list[RedisServer],
    start_exporter: StartExporter,
) -> None:
    servers.append(RedisServer())
    servers[0].client().get("k")
    metrics = start_exporter("--target", servers[0].uri, *args, env=env).metrics()
    assert metrics.value("redis_up") == 1
    assert (NAME in metrics.types) is exported


def test_resetstat_between_scrapes_resets_every_series_together(
    servers: list[RedisServer], start_exporter: StartExporter
) -> None:
    """CONFIG RESETSTAT: the family goes down as a whole (a counter reset rate() sees), and
    stays well-formed; a command not called since is gone, not frozen at its old counts."""
    servers.append(RedisServer())
    client = servers[0].client()
    for _ in range(100):
        client.get("k")
    exporter = start_exporter("--target", servers[0].uri)
    before = exporter.metrics()
    assert buckets(before, "get")["+Inf"] == 100
    client.config_resetstat()
    client.set("k", "v")
    after = exporter.metrics()
    assert_well_formed(after)
    assert buckets(after, "get") == {}
    assert buckets(after, "set")["+Inf"] == 1
    assert after.get(NAME + "_sum", cmd="get") == []


# -- a sum across the nodes of a cluster ---------------------------------------------------


# Broke: only the buckets Redis listed were exported, so nodes had different `le` sets and
# `sum by (le, cmd)` across them was not cumulative; now every command has the whole ladder.
def test_buckets_sum_across_nodes_into_a_cumulative_histogram(
    servers: list[RedisServer], start_exporter: StartExporter
) -> None:
    fast = RedisServer("--enable-debug-command", "yes")
    servers.append(fast)
    slow = RedisServer("--enable-debug-command", "yes")  # its calls land in other buckets
    servers.append(slow)
    for _ in range(200):
        fast.client().execute_command("DEBUG", "SLEEP", "0")
    fast.client().execute_command("DEBUG", "SLEEP", "0.005")  # one slow call on the fast node
    for _ in range(20):
        slow.client().execute_command("DEBUG", "SLEEP", "0.0003")
    exporter = start_exporter("--target", fast.uri, "--target", slow.uri)
    metrics = exporter.metrics()
    assert_well_formed(metrics)  # each node on its own is fine
    summed: dict[str, float] = defaultdict(float)
    for name, labels, value in metrics.samples:  # sum by (le, cmd), as Prometheus does
        if name == NAME + "_bucket" and labels.get("cmd") == "debug":
            summed[labels["le"]] += value
    ordered = [summed[le] for le in sorted(summed, key=le_key)]
    assert ordered == sorted(ordered), f"the cluster's sum is not cumulative: {dict(summed)}"


# -- a fake Redis 7 whose LATENCY HISTOGRAM reply is hostile -------------------------------


def _resp(value: object) -> bytes:
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, float):
        return b",%s\r\n" % repr(value).encode()
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), value)
    assert isinstance(value, list)
    return b"*%d\r\n" % len(value) + b"".join(_resp(item) for item in value)


def fake_redis_7(histogram_reply: bytes) -> HostileServer:
    def answer(command: list[bytes]) -> bytes:
        words = [word.upper() for word in command]
        if words[:1] == [b"INFO"]:
            return _resp(INFO_HEAD)
        if words[:2] == [b"LATENCY", b"HISTOGRAM"]:
            return histogram_reply
        if words[:1] in ([b"SLOWLOG"], [b"LATENCY"], [b"CONFIG"]):
            return b":0\r\n" if words[1:2] == [b"LEN"] else b"*0\r\n"
        return b"+OK\r\n"

    return HostileServer(hostile.redis_like(answer))


def entry(cmd: bytes, calls: object, pairs: list[object]) -> list[object]:
    return [cmd, [b"calls", calls, b"histogram_usec", pairs]]


GOOD = entry(b"get", 2, [4, 2])
HOSTILE = {
    "negative-count": entry(b"set", -5, [4, -5]),
    "non-monotonic": entry(b"set", 10, [4, 10, 8, 3]),
    "calls-below-buckets": entry(b"set", 1, [4, 10]),
    "duplicate-bound": entry(b"set", 3, [4, 1, 4, 3]),
    "bounds-descending": entry(b"set", 3, [8, 1, 4, 3]),
    "huge-count": entry(b"set", 2**62, [4, 2**62]),
    "nan-text": entry(b"set", b"nan", [4, b"nan"]),
    "inf-text-bound": entry(b"set", 3, [b"inf", 3]),
    "text-bound": entry(b"set", 3, [b"1e400", 3]),
    "odd-pairs": entry(b"set", 3, [4, 1, 8]),
    "duplicate-command": entry(b"get", 5, [4, 5]),
    "quote-newline-name": entry(b'ev"il\\\nname{x="y"}', 3, [4, 3]),
    "module-dotted-name": entry(b"ft.search", 3, [4, 3]),
    "empty-name": entry(b"", 3, [4, 3]),
}


# Broke: duplicate-command: a reply naming `get` twice was exported twice (duplicate series);
# now the first is kept and the rest count as malformed.
@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
def test_hostile_histogram_reply_keeps_exposition_well_formed(
    case: str, fakes: list[HostileServer], start_exporter: StartExporter
) -> None:
    fakes.append(fake_redis_7(_resp([*GOOD, *HOSTILE[case]])))
    exporter = start_exporter("--target", fakes[0].address)
    metrics = exporter.metrics()
    assert metrics.value("redis_up") == 1, metrics.scrape_errors(fakes[0].address)
    assert buckets(metrics, "get")["+Inf"] in (2, 5)
    assert_well_formed(metrics)


def test_a_huge_reply_is_bounded_in_time_and_the_other_target_unaffected(
    fakes: list[HostileServer], servers: list[RedisServer], start_exporter: StartExporter
) -> None:
    reply: list[object] = []
    for index in range(20_000):
        pairs: list[object] = []
        for bit in range(40):
            pairs += [2**bit, index + bit + 1]
        reply += entry(b"c%d" % index, index + 41, pairs)
    fakes.append(fake_redis_7(_resp(reply)))
    servers.append(RedisServer())
    servers[0].client().get("k")
    exporter = start_exporter("--target", fakes[0].address, "--target", servers[0].uri)
    began = time.monotonic()
    metrics = exporter.metrics()
    assert time.monotonic() - began < 15
    assert metrics.value("redis_up", instance=fakes[0].address) in (0, 1)
    assert metrics.value("redis_up", instance=f"127.0.0.1:{servers[0].port}") == 1
    assert len(metrics.get(NAME + "_count", instance=fakes[0].address)) <= 200
    assert_well_formed(metrics)
