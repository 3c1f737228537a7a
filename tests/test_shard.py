"""--shard i/n: replicas split a fleet without overlap and without gaps."""

from __future__ import annotations

import pytest
from cachescope.fleet import in_shard, parse_shard
from servers import Exporter


def test_slices_cover_every_target_exactly_once_and_evenly() -> None:
    names = [f"10.0.{i // 250}.{i % 250}:6379" for i in range(3000)]
    slices = [[name for name in names if in_shard(name, (i, 3))] for i in range(3)]
    assert sorted(sum(slices, [])) == sorted(names)
    assert all(800 < len(part) < 1200 for part in slices), [len(part) for part in slices]


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
    seen = [
        {labels["instance"] for name, labels, _ in replica.metrics().samples if name == "redis_up"}
        for replica in replicas
    ]
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == {f"127.0.0.1:{server.port}" for server in servers}
