"""LATENCY HISTOGRAM on real servers: redis_exporter's histogram where Redis has it, nothing
(and no error reply) where it does not; and a fake's hostile replies kept bounded."""

from __future__ import annotations

from collections.abc import Iterator

import hostile
import pytest
import redis
from cachescope.redis.latency_histogram import LADDER, LEFT_OUT, MAX_COMMANDS, NAME
from hostile import INFO_HEAD, HostileServer
from matrix import REDIS_SERVERS, ServerBinary
from servers import Exposition, RedisServer, StartExporter

WITH_HISTOGRAM = [
    binary
    for binary in REDIS_SERVERS
    if binary.server == "redis" and binary.version.split(".")[0] in ("7", "8")
]
REDIS_62 = next(binary for binary in REDIS_SERVERS if binary.version.startswith("6.2"))


def start(binary: ServerBinary) -> RedisServer:
    return RedisServer(*binary.module_args, binary=binary.require())


@pytest.fixture(params=WITH_HISTOGRAM, ids=lambda binary: binary.id)
def redis_7_or_8(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    server = start(request.param)
    yield server
    server.stop()


def server_histogram(client: redis.Redis, cmd: str) -> dict[str, float]:
    """`LATENCY HISTOGRAM cmd` as the server answers it now, on the whole ladder.

    The server lists only the bounds that hold calls; every other bound of the ladder has
    the running count. A bound the server prints that is not on the ladder fails here.
    """
    # redis-py reads the reply into {cmd: {"calls": n, "histogram_usec": {bound: count}}}.
    details = client.execute_command("LATENCY", "HISTOGRAM", cmd)[cmd.encode()]
    listed = {int(bound): int(count) for bound, count in details[b"histogram_usec"].items()}
    assert set(listed) <= set(LADDER), f"bounds off the ladder: {set(listed) - set(LADDER)}"
    filled: dict[str, float] = {}
    running = 0
    for bound in LADDER:
        running = listed.get(bound, running)
        filled[str(bound)] = float(running)
    return {**filled, "+Inf": float(details[b"calls"])}


def exported_histogram(metrics: Exposition, cmd: str) -> dict[str, float]:
    return {
        labels["le"]: value
        for name, labels, value in metrics.samples
        if name == NAME + "_bucket" and labels.get("cmd") == cmd
    }


def test_get_buckets_match_latency_histogram_get(
    redis_7_or_8: RedisServer, start_exporter: StartExporter
) -> None:
    client = redis_7_or_8.client()
    client.set("k", "v" * 100)
    for _ in range(300):
        client.get("k")
    exporter = start_exporter("--target", redis_7_or_8.uri)
    metrics = exporter.metrics()
    # The scrape sends INFO, CONFIG, SLOWLOG, LATENCY: no GET, so GET's histogram holds still.
    assert exported_histogram(metrics, "get") == server_histogram(client, "get")
    assert metrics.types[NAME] == "histogram"
    assert metrics.value(NAME + "_count", cmd="get") == 300
    usec = client.info("commandstats")["cmdstat_get"]["usec"]
    assert metrics.value(NAME + "_sum", cmd="get") == usec  # redis_exporter's sum
    assert metrics.value("cachescope_target_capability", capability="latency_histogram") == 1
    assert metrics.value(LEFT_OUT, reason="over_cap") == 0


@pytest.mark.live  # starts its own server, with DEBUG enabled
@pytest.mark.parametrize(
    "binary", [b for b in REDIS_SERVERS if b.has_latency_histogram], ids=lambda b: b.id
)
def test_every_bound_the_server_prints_is_on_the_ladder(binary: ServerBinary) -> None:
    """Calls of 1 µs to half a second land on LADDER's bounds, the top one included: the
    full ladder cachescope exports is the one Redis 7.0, 8.2 and Valkey print."""
    server = RedisServer(
        *binary.module_args, "--enable-debug-command", "yes", binary=binary.require()
    )
    try:
        client = server.client()
        for _ in range(200):
            client.get("k")  # 1 to 33 µs, below what DEBUG SLEEP can take
        for step in range(20):  # 1 µs doubling to 0.55 s: one call in each bucket up
            client.execute_command("DEBUG", "SLEEP", f"{1.05e-6 * 2**step:.7f}")
        printed: set[int] = set()
        for cmd in ("get", "debug"):
            details = client.execute_command("LATENCY", "HISTOGRAM", cmd)[cmd.encode()]
            printed |= {int(bound) for bound in details[b"histogram_usec"]}
    finally:
        server.stop()
    assert printed <= set(LADDER), sorted(printed - set(LADDER))
    assert len(printed) >= 12 and max(printed) == LADDER[-1]  # the whole range was met


def test_switched_off_the_family_is_absent_and_not_asked(
    redis_7_or_8: RedisServer, start_exporter: StartExporter
) -> None:
    client = redis_7_or_8.client()
    client.get("k")
    exporter = start_exporter("--target", redis_7_or_8.uri, "--no-redis.latency-histograms")
    for _ in range(3):
        metrics = exporter.metrics()
        assert metrics.value("redis_up") == 1
    assert NAME not in metrics.types
    assert not metrics.get("cachescope_target_capability", capability="latency_histogram")
    assert "cmdstat_latency|histogram" not in client.info("commandstats")


def test_asked_every_third_scrape_the_buckets_repeat_in_between(
    redis_7_or_8: RedisServer, start_exporter: StartExporter
) -> None:
    client = redis_7_or_8.client()
    client.get("k")
    exporter = start_exporter("--target", redis_7_or_8.uri, "--redis.latency-histograms-every=3")
    counts = []
    for _ in range(7):
        counts.append(exporter.metrics().value(NAME + "_count", cmd="get"))
        client.get("k")
    assert counts == [1, 1, 1, 4, 4, 4, 7]  # asked at the first, fourth and seventh scrape
    asked = client.info("commandstats")["cmdstat_latency|histogram"]["calls"]
    assert asked == 3
    # /scrape renders without the instance label: it asks rather than leave the family out.
    scraped = exporter.metrics(f"/scrape?target={redis_7_or_8.uri}")
    assert scraped.value(NAME + "_count", cmd="get") == 8


def test_redis_exporter_variable_turns_it_off(
    redis_7_or_8: RedisServer, start_exporter: StartExporter
) -> None:
    env = {"REDIS_EXPORTER_EXCLUDE_LATENCY_HISTOGRAM_METRICS": "true"}
    redis_7_or_8.client().get("k")
    metrics = start_exporter("--target", redis_7_or_8.uri, env=env).metrics()
    assert metrics.value("redis_up") == 1
    assert NAME not in metrics.types


def test_redis_6_2_has_no_family_and_no_error_reply_across_30_scrapes(
    start_exporter: StartExporter,
) -> None:
    server = start(REDIS_62)
    try:
        watch = server.client()
        watch.ping()  # redis-py's CLIENT SETINFO, an error on 6.2, counted before the reading
        watch.get("k")
        errors = watch.info("stats")["total_error_replies"]
        exporter = start_exporter("--target", server.uri)
        for _ in range(30):
            metrics = exporter.metrics()
            assert metrics.value("redis_up") == 1
        assert NAME not in metrics.types
        assert watch.info("stats")["total_error_replies"] == errors
    finally:
        server.stop()


# -- a fake Redis 7 whose LATENCY HISTOGRAM reply is hostile --------------------------------


def _resp(value: object) -> bytes:
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), value)
    assert isinstance(value, list)
    return b"*%d\r\n" % len(value) + b"".join(_resp(item) for item in value)


def fake_redis_7(histogram_reply: bytes, asked: list[bytes] | None = None) -> HostileServer:
    """A Redis 7.0 that answers LATENCY HISTOGRAM with `histogram_reply`, the rest plainly;
    every command's first words go to `asked`."""

    def answer(command: list[bytes]) -> bytes:
        if asked is not None:
            asked.append(b" ".join(command[:2]).upper())
        words = [word.upper() for word in command]
        if words[:1] == [b"INFO"]:
            return _resp(INFO_HEAD)
        if words[:2] == [b"LATENCY", b"HISTOGRAM"]:
            return histogram_reply
        if words[:1] in ([b"SLOWLOG"], [b"LATENCY"], [b"CONFIG"]):
            return b":0\r\n" if words[1:2] == [b"LEN"] else b"*0\r\n"
        return b"+OK\r\n"

    return HostileServer(hostile.redis_like(answer))


def test_thousands_of_commands_are_capped_and_counted(
    fakes: list[HostileServer], start_exporter: StartExporter
) -> None:
    reply: list[object] = []
    for index in range(5000):
        reply += [b"cmd%d" % index, [b"calls", index + 1, b"histogram_usec", [1, index + 1]]]
    fakes.append(fake_redis_7(_resp(reply)))
    metrics = start_exporter("--target", fakes[0].address).metrics()
    assert metrics.value("redis_up") == 1
    assert len(metrics.get(NAME + "_count")) == MAX_COMMANDS
    assert metrics.value(LEFT_OUT, reason="over_cap") == 5000 - MAX_COMMANDS
    assert min(metrics.get(NAME + "_count")) == 5000 - MAX_COMMANDS + 1  # the busiest kept


def _nested_then_get(depth: int) -> bytes:
    """A `set` whose calls are `depth` arrays deep, then a well-formed `get`."""
    nested = b"*1\r\n" * depth + b":1\r\n"
    good = _resp([b"get", [b"calls", 2, b"histogram_usec", [4, 2]]])[4:]  # without its *2
    head = b"*4\r\n$3\r\nset\r\n*4\r\n$5\r\ncalls\r\n"
    return head + nested + b"$14\r\nhistogram_usec\r\n*0\r\n" + good


def test_nested_reply_is_malformed_and_the_rest_exported(
    fakes: list[HostileServer], start_exporter: StartExporter
) -> None:
    fakes.append(fake_redis_7(_nested_then_get(500)))  # within what hiredis reads
    metrics = start_exporter("--target", fakes[0].address).metrics()
    assert metrics.value("redis_up") == 1
    assert exported_histogram(metrics, "get") == {
        **{str(bound): (2 if bound >= 4 else 0) for bound in LADDER},
        "+Inf": 2,
    }
    assert metrics.value(LEFT_OUT, reason="malformed") == 1


def test_too_deep_a_reply_fails_that_scrape_as_protocol_not_the_exporter(
    fakes: list[HostileServer], start_exporter: StartExporter
) -> None:
    fakes.append(fake_redis_7(_nested_then_get(100_000)))  # hiredis stops past 1,000 levels
    exporter = start_exporter("--target", fakes[0].address)
    for _ in range(3):
        metrics = exporter.metrics()
        assert metrics.value("redis_up") == 0
    assert "protocol" in metrics.scrape_errors(fakes[0].address)


def test_a_look_alike_that_refuses_it_is_asked_once_per_connection(
    fakes: list[HostileServer], start_exporter: StartExporter
) -> None:
    asked: list[bytes] = []
    refusal = b"-ERR unknown subcommand 'HISTOGRAM'. Try LATENCY HELP.\r\n"
    fakes.append(fake_redis_7(refusal, asked))
    exporter = start_exporter("--target", fakes[0].address)
    for _ in range(5):
        metrics = exporter.metrics()
        assert metrics.value("redis_up") == 1
        assert metrics.value("cachescope_target_capability", capability="latency_histogram") == 0
        assert metrics.value("cachescope_target_capability", capability="latency") == 1
    assert asked.count(b"LATENCY HISTOGRAM") == 1
    assert asked.count(b"LATENCY LATEST") >= 5  # the rest of LATENCY is still asked
    assert NAME not in metrics.types
