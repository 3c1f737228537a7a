"""Connections by client name, address family and idle time, from CLIENT LIST (pure).

    redis_connected_clients_by_name{client_name="web"} 3
    redis_connected_clients_by_address_family{family="unix"} 1
    redis_connected_clients_by_idle{idle="1s-10s"} 6
    cachescope_client_breakdown_skipped{reason="reply_too_large"} 1

redis_exporter's --export-client-list gives a series per connection (its id, host and
port as labels), which grows with every client and churns with every reconnect. These
families are bounded: at most MAX_NAMES names, three families and six idle buckets.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import GAUGE
from cachescope.logs import fields

log = logging.getLogger(__name__)

# A CLIENT LIST line is 250 to 400 bytes: 20,000 connections are about 8 MiB, and
# splitting that into fields costs the scrape some 100 ms. Past that we do not ask
# (the count comes from the last INFO), and a reply past MAX_REPLY_BYTES (long
# client names) is dropped unread; both well within the round trip's 32 MiB cap.
MAX_CLIENTS = 20_000
MAX_REPLY_BYTES = 8 << 20
# Client names kept per target, the most connected first; the rest sum under OTHER.
MAX_NAMES = 100
OTHER = "other"
# A name is the client's choice, of any length: a label value past this is cut.
MAX_NAME_CHARS = 128
# Idle time buckets, by their upper bound in seconds (INFO's idle is whole seconds).
IDLE_BUCKETS = {"<1s": 1, "1s-10s": 10, "10s-1m": 60, "1m-10m": 600, "10m-1h": 3600, ">=1h": 0}


@dataclass(slots=True)
class Breakdown:
    """Counts of one CLIENT LIST reply."""

    names: Counter[str] = field(default_factory=Counter)
    families: Counter[str] = field(default_factory=Counter)
    idle: Counter[str] = field(default_factory=Counter)


def parse_client_list(reply: bytes) -> Breakdown:
    """Count the connections of a CLIENT LIST reply; lines that are not clients are skipped."""
    counts = Breakdown()
    for line in reply.split(b"\n"):
        fields = dict(pair.partition(b"=")[::2] for pair in line.split())
        addr = fields.get(b"addr")
        if addr is None:
            continue
        counts.names[_name(fields.get(b"name", b""))] += 1
        counts.families[_family(addr, fields.get(b"flags", b""))] += 1
        counts.idle[_idle_bucket(fields.get(b"idle", b""))] += 1
    return counts


def _name(raw: bytes) -> str:
    """The name as text; bytes that are not UTF-8 escaped, so two names never merge."""
    return raw.decode("utf-8", "backslashreplace")[:MAX_NAME_CHARS]


def _family(addr: bytes, flags: bytes) -> str:
    """'unix' (flag U, or a path), 'tcp6' (a colon in the host part) or 'tcp'."""
    if b"U" in flags or addr.startswith(b"/"):
        return "unix"
    host = addr.rpartition(b":")[0]
    return "tcp6" if b":" in host else "tcp"


def _idle_bucket(idle: bytes) -> str:
    seconds = int(idle) if idle.isdigit() else 0
    for bucket, below in IDLE_BUCKETS.items():
        if seconds < below:
            return bucket
    return ">=1h"


def capped(names: Counter[str]) -> dict[str, int]:
    """The MAX_NAMES most connected names (ties by name), the rest summed under OTHER."""
    ranked = sorted(names.items(), key=lambda item: (-item[1], item[0]))
    kept = dict(ranked[:MAX_NAMES])
    rest = sum(count for _, count in ranked[MAX_NAMES:])
    if rest:
        kept[OTHER] = kept.get(OTHER, 0) + rest
    return kept


def add_breakdown(metrics: MetricSet, counts: Breakdown) -> None:
    """The three bounded families of one reply."""
    by_name = metrics.family(
        "redis_connected_clients_by_name",
        GAUGE,
        f"Connections by client name (CLIENT SETNAME); past {MAX_NAMES} names, '{OTHER}'.",
    )
    for client_name, count in capped(counts.names).items():
        by_name.add(count, (("client_name", client_name),))
    by_family = metrics.family(
        "redis_connected_clients_by_address_family",
        GAUGE,
        "Connections by address family: tcp, tcp6 or unix.",
    )
    for family, count in sorted(counts.families.items()):
        by_family.add(count, (("family", family),))
    by_idle = metrics.family(
        "redis_connected_clients_by_idle", GAUGE, "Connections by time since their last command."
    )
    for bucket in IDLE_BUCKETS:
        by_idle.add(counts.idle[bucket], (("idle", bucket),))


def add_skipped(metrics: MetricSet, reason: str, target: str, reported: set[str]) -> None:
    """Why this scrape has no breakdown: too_many_clients, reply_too_large or refused.

    Logged once per target and reason (`reported` remembers), shown on every scrape.
    """
    if f"client-breakdown:{reason}" not in reported:
        reported.add(f"client-breakdown:{reason}")
        log.warning(
            "client breakdown skipped",
            extra=fields(
                target=target,
                reason=reason,
                hint=f"skipped above {MAX_CLIENTS} clients or {MAX_REPLY_BYTES} bytes of"
                " CLIENT LIST, or when the command is refused",
            ),
        )
    metrics.add(
        "cachescope_client_breakdown_skipped",
        GAUGE,
        "1 when the connection breakdown was left out of this scrape, by reason.",
        1,
        (("reason", reason),),
    )
