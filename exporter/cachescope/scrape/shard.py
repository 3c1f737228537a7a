"""--shard i/n: which targets a replica watches, so n replicas split one fleet.

The slice is a property of the /metrics mode only, where the exporter decides who
scrapes what: each replica scrapes (and keyspace-samples) the targets whose name
hashes to its index, discovered nodes included, so n replicas over one config cover
every target exactly once. Every replica still runs discovery for every seed, since
a cluster's nodes can only be sliced once they are known.

In the /scrape mode Prometheus decides, with its own hash (`hashmod` over the target),
so a replica serves every configured, discovered or allowed target it is asked for,
and /discover lists them all; a target outside the slice gets its state (and sampler)
at its first /scrape, on the replica Prometheus sends it to.
"""

from __future__ import annotations

import dataclasses
import hashlib


@dataclasses.dataclass(frozen=True, slots=True)
class Shard:
    """The index-th of count slices of a fleet."""

    index: int
    count: int


WHOLE = Shard(0, 1)


def parse_shard(text: str) -> Shard:
    """'i/n' with 0 <= i < n."""
    index, sep, count = text.partition("/")
    if not (sep and index.isdecimal() and count.isdecimal() and int(index) < int(count)):
        raise ValueError(f"--shard must look like i/n with 0 <= i < n, got {text!r}")
    return Shard(int(index), int(count))


def in_shard(name: str, shard: Shard) -> bool:
    """Whether a target belongs to this replica's slice; stable across processes and restarts."""
    if shard.count <= 1:
        return True
    # sha256, not hash(): Python salts str hashes per process, and replicas must agree.
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shard.count == shard.index
