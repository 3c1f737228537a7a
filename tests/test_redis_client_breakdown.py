"""--redis.client-breakdown: connections by client name, address family and idle time.

From CLIENT LIST, in the scrape's own round trip; bounded: at most 100 client names per
target (the rest summed under "other"), and a reply over 8 MiB skipped with a reason
while the rest of the scrape (redis_up 1) stands.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis
from cachescope.config.records import RedisOptions, target_from_uri
from cachescope.exposition.families import MetricSet
from cachescope.redis import clients
from cachescope.redis.collect import RedisCollector
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from servers import Exposition, RedisServer, StartExporter

pytestmark = pytest.mark.live


def name(server: RedisServer) -> str:
    return f"127.0.0.1:{server.port}"


def by(metrics: Exposition, family: str, label: str, instance: str) -> dict[str, float]:
    return {
        labels.get(label, ""): value
        for sample, labels, value in metrics.samples
        if sample == family and labels.get("instance") == instance
    }


def names_of(metrics: Exposition, server: RedisServer) -> dict[str, float]:
    return by(metrics, "redis_connected_clients_by_name", "client_name", name(server))


@pytest.fixture
def connections() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


def connect(stack: ExitStack, server: RedisServer, client_name: str, **kw: object) -> redis.Redis:
    """A connection that stays open, named with CLIENT SETNAME."""
    client = stack.enter_context(server.client(single_connection_client=True, **kw))
    client.execute_command("CLIENT", "SETNAME", client_name)
    return client


def test_connections_by_name_family_and_idle_time(
    start_redis, start_exporter: StartExporter, connections: ExitStack, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    socket = str(tmp_path / "redis.sock")
    server: RedisServer = start_redis("--unixsocket", socket, "--unixsocketperm", "700")
    for _ in range(3):
        connect(connections, server, "web")
    connect(connections, server, "worker")
    unix = connections.enter_context(redis.Redis(unix_socket_path=socket))
    unix.execute_command("CLIENT", "SETNAME", "local")
    connections.enter_context(server.client(single_connection_client=True)).ping()  # unnamed
    time.sleep(1.2)  # so these six have been idle a second or more
    exporter = start_exporter("--target", server.uri, "--redis.client-breakdown")
    metrics = exporter.metrics()
    instance = name(server)
    names = by(metrics, "redis_connected_clients_by_name", "client_name", instance)
    # ours is named cachescope (and connected); the unnamed one has an empty name
    assert names == {"web": 3, "worker": 1, "local": 1, "": 1, "cachescope": 1}
    families = by(metrics, "redis_connected_clients_by_address_family", "family", instance)
    assert families == {"tcp": 6, "unix": 1}
    idle = by(metrics, "redis_connected_clients_by_idle", "idle", instance)
    assert set(idle) == set(clients.IDLE_BUCKETS)
    assert idle["1s-10s"] == 6 and idle["<1s"] == 1  # our own connection is busy
    assert sum(idle.values()) == sum(names.values())
    assert metrics.types["redis_connected_clients_by_name"] == "gauge"


def test_off_by_default(redis_server: RedisServer, start_exporter: StartExporter) -> None:
    metrics = start_exporter("--target", redis_server.uri).metrics()
    assert not {n for n in metrics.names() if n.startswith("redis_connected_clients_by")}


def test_three_hundred_names_are_capped_at_a_hundred_plus_other(
    redis_server: RedisServer, start_exporter: StartExporter, connections: ExitStack
) -> None:
    for i in range(300):
        connect(connections, redis_server, f"job-{i:03d}")
    for _ in range(5):  # the most connected names are the ones kept
        connect(connections, redis_server, "busy")
    exporter = start_exporter("--target", redis_server.uri, "--redis.client-breakdown")
    names = by(
        exporter.metrics(), "redis_connected_clients_by_name", "client_name", name(redis_server)
    )
    assert len(names) == clients.MAX_NAMES + 1
    assert names["busy"] == 5
    assert names[clients.OTHER] == 306 - sum(v for k, v in names.items() if k != clients.OTHER)
    assert sum(names.values()) == 306


def test_names_with_quotes_and_backslashes_are_escaped(
    redis_server: RedisServer, start_exporter: StartExporter, connections: ExitStack
) -> None:
    for client_name in ['quote"d', "back\\slash", "x{y}=z"]:  # Redis allows printable ASCII
        connect(connections, redis_server, client_name)
    exporter = start_exporter("--target", redis_server.uri, "--redis.client-breakdown")
    status, text = exporter.get("/metrics")
    assert status == 200
    names = {  # read back by prometheus_client's parser, escapes undone
        sample.labels["client_name"]
        for family in text_string_to_metric_families(text)
        if family.name == "redis_connected_clients_by_name"
        for sample in family.samples
    }
    assert {'quote"d', "back\\slash", "x{y}=z"} <= names


@pytest.mark.unit
def test_names_that_are_not_utf8_stay_apart_and_long_ones_are_cut() -> None:
    """What a fork or proxy might send that Redis itself refuses to set."""
    reply = (
        b"id=1 addr=10.0.0.1:5000 laddr=10.0.0.2:6379 fd=8 name=bin\xff age=1 idle=0 flags=N\n"
        b"id=2 addr=10.0.0.1:5001 laddr=10.0.0.2:6379 fd=9 name=bin\xfe age=1 idle=4000 flags=N\n"
        b"id=3 addr=[::1]:5002 fd=10 name=" + b"n" * 500 + b" age=1 idle=30 flags=N\n"
        b"id=4 addr=/tmp/redis.sock:0 fd=11 name= age=1 idle=x flags=U\n"
        b"garbage without fields\n"
    )
    counts = clients.parse_client_list(reply)
    assert counts.names == {"bin\\xff": 1, "bin\\xfe": 1, "n" * clients.MAX_NAME_CHARS: 1, "": 1}
    assert counts.families == {"tcp": 2, "tcp6": 1, "unix": 1}
    assert counts.idle == {"<1s": 2, ">=1h": 1, "10s-1m": 1}


@pytest.mark.unit
@given(st.binary(max_size=2000))
def test_any_reply_parses_into_counts_that_add_up(reply: bytes) -> None:
    counts = clients.parse_client_list(reply)
    total = sum(counts.names.values())
    assert total == sum(counts.families.values()) == sum(counts.idle.values())
    assert sum(clients.capped(counts.names).values()) == total
    assert len(clients.capped(counts.names)) <= clients.MAX_NAMES + 1


def test_a_reply_over_the_cap_is_skipped_and_the_scrape_stands(
    redis_server: RedisServer, start_exporter: StartExporter, connections: ExitStack
) -> None:
    long = "n" * 250_000
    for i in range(40):  # 10 MB of CLIENT LIST: over the 8 MiB cap, within the round trip's
        connect(connections, redis_server, f"{long}{i}")
    exporter = start_exporter("--target", redis_server.uri, "--redis.client-breakdown")
    metrics = exporter.metrics()
    instance = name(redis_server)
    assert metrics.value("redis_up", instance=instance) == 1
    assert metrics.value("redis_connected_clients", instance=instance) == 41
    assert metrics.get("redis_connected_clients_by_name", instance=instance) == []
    assert (
        metrics.value(
            "cachescope_client_breakdown_skipped", instance=instance, reason="reply_too_large"
        )
        == 1
    )
    assert "reply_too_large" in exporter.log()


def test_too_many_clients_are_not_asked_for(
    redis_server: RedisServer, connections: ExitStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_CLIENTS connections (from the last INFO) CLIENT LIST is not even sent."""
    monkeypatch.setattr(clients, "MAX_CLIENTS", 5)
    for i in range(10):
        connect(connections, redis_server, f"c{i}")
    target = target_from_uri(redis_server.uri)
    target = dataclasses.replace(target, redis=RedisOptions(client_breakdown=True))
    collector = RedisCollector(target)
    try:
        for _ in range(2):  # the first scrape learns the count; the second is the pipeline
            metrics = MetricSet()
            collector.collect(metrics, time.monotonic() + 5)
        assert metrics.get("redis_connected_clients_by_name") is None
        skipped = metrics.get("cachescope_client_breakdown_skipped")
        assert skipped is not None
        assert [s.labels for s in skipped.samples] == ['{reason="too_many_clients"}']
        stats = redis_server.client().info("commandstats")
        assert "cmdstat_client|list" not in stats and "cmdstat_client|setname" in stats
    finally:
        collector.close()
