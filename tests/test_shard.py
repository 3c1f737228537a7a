"""--shard i/n: replicas split a fleet without overlap and without gaps."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from cachescope.config.loader import parse_config
from cachescope.fleet import Fleet, Limits
from cachescope.scrape.shard import Shard, in_shard, parse_shard
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import Exporter, Exposition, RedisServer


def instances(replica: Exporter) -> set[str]:
    """The instances of a replica's redis_up on /metrics: the targets it watches."""
    samples = replica.metrics().samples
    return {labels["instance"] for name, labels, _ in samples if name == "redis_up"}


def test_slices_cover_every_target_exactly_once_and_evenly() -> None:
    names = [f"10.0.{i // 250}.{i % 250}:6379" for i in range(3000)]
    slices = [[name for name in names if in_shard(name, Shard(i, 3))] for i in range(3)]
    assert sorted(sum(slices, [])) == sorted(names)
    assert all(800 < len(part) < 1200 for part in slices), [len(part) for part in slices]


@given(st.sets(st.text(min_size=1), max_size=30), st.integers(1, 8))
def test_any_names_fall_in_exactly_one_of_n_slices(names: set[str], count: int) -> None:
    for name in names:
        assert sum(in_shard(name, Shard(i, count)) for i in range(count)) == 1


@settings(max_examples=20, deadline=None)
@given(st.integers(min_value=1, max_value=4))
def test_a_fleet_resolves_every_target_and_watches_only_its_slice(count: int) -> None:
    # No connection is made: states connect at their first scrape, and none is scraped.
    ports = range(1, 13)
    config = parse_config(
        "targets:\n" + "".join(f"  - uri: redis://127.0.0.1:{p}\n" for p in ports)
    )
    watched: list[str] = []
    for index in range(count):
        fleet = Fleet(config, Limits(shard=Shard(index, count)))
        try:
            for port in ports:  # by name and by URI, the slice's or not
                name = f"127.0.0.1:{port}"
                assert fleet.resolve(name).target.name == name
                assert fleet.resolve(f"redis://{name}").target.name == name
            assert len(fleet.service_discovery()) == len(ports)
            watched += fleet.states
        finally:
            fleet.close()
    assert sorted(watched) == sorted(f"127.0.0.1:{port}" for port in ports)


@pytest.mark.parametrize("text", ["1", "2/2", "a/3", "-1/3", "1/0"])
def test_bad_shard_spellings_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="i/n"):
        parse_shard(text)


def test_two_replicas_watch_disjoint_halves_of_one_target_list(
    start_redis,
    start_exporter,  # type: ignore[no-untyped-def]
) -> None:
    servers = [start_redis() for _ in range(6)]
    args = [arg for server in servers for arg in ("--target", server.uri)]
    replicas: list[Exporter] = [start_exporter(*args, "--shard", f"{i}/2") for i in range(2)]
    seen = [instances(replica) for replica in replicas]
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == {f"127.0.0.1:{server.port}" for server in servers}


def _replicas(start_redis, start_exporter, count: int = 2):  # type: ignore[no-untyped-def]
    """Six Redis servers and `count` exporters over them, each with its own --shard."""
    servers: list[RedisServer] = [start_redis() for _ in range(6)]
    args = [arg for server in servers for arg in ("--target", server.uri)]
    replicas = [start_exporter(*args, "--shard", f"{i}/{count}") for i in range(count)]
    return servers, replicas


def test_every_replica_serves_every_configured_target_on_scrape_whatever_its_shard(
    start_redis,
    start_exporter,  # type: ignore[no-untyped-def]
) -> None:
    # In the /scrape mode Prometheus' hashmod picks the replica, with its own hash:
    # a replica that refused targets outside its --shard slice would drop them.
    servers, replicas = _replicas(start_redis, start_exporter)
    for replica in replicas:
        for server in servers:
            for text in (server.uri, f"127.0.0.1:{server.port}"):  # by URI and by name
                status, body = replica.get("/scrape?target=" + urllib.parse.quote(text))
                assert status == 200, (replica.port, text, body)
                assert Exposition(body).value("redis_up") == 1


def test_every_replica_lists_every_target_on_discover(
    start_redis,
    start_exporter,  # type: ignore[no-untyped-def]
) -> None:
    # /discover feeds the hashmod jobs: each must see the whole fleet to take its share.
    servers, replicas = _replicas(start_redis, start_exporter)
    expected = {f"127.0.0.1:{server.port}" for server in servers}
    for replica in replicas:
        status, body = replica.get("/discover")
        assert status == 200, body
        assert {name for group in json.loads(body) for name in group["targets"]} == expected


def test_a_target_outside_the_slice_is_not_on_metrics_after_its_scrape(
    start_redis,
    start_exporter,  # type: ignore[no-untyped-def]
) -> None:
    # Serving a target on /scrape must not add it to this replica's /metrics slice.
    servers, replicas = _replicas(start_redis, start_exporter)
    for index, replica in enumerate(replicas):
        for server in servers:
            replica.get("/scrape?target=" + urllib.parse.quote(server.uri))
        names = [f"127.0.0.1:{server.port}" for server in servers]
        assert instances(replica) == {name for name in names if in_shard(name, Shard(index, 2))}
