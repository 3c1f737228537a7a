"""Redis Cluster: parse CLUSTER INFO and CLUSTER NODES, and the metrics they give (pure).

redis_cluster_state 1
redis_cluster_slots_fail 0
redis_cluster_node_info{node_id="10f1…",role="master",shard="10f1…"} 1
redis_cluster_node_slots 5461
redis_cluster_peers{link_state="disconnected"} 0
"""

from __future__ import annotations

import dataclasses

from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import COUNTER, GAUGE, metric_name
from cachescope.redis.parse import parse_info, to_float

# CLUSTER INFO field -> (metric name, type, help). The two message totals are
# gauges because redis_exporter declares them so; its dashboards rate() them anyway.
CLUSTER_FIELDS = {
    "cluster_slots_assigned": ("redis_cluster_slots_assigned", GAUGE, "Slots assigned to nodes."),
    "cluster_slots_ok": ("redis_cluster_slots_ok", GAUGE, "Slots whose node is healthy."),
    "cluster_slots_pfail": (
        "redis_cluster_slots_pfail",
        GAUGE,
        "Slots whose node this node thinks is failing (PFAIL).",
    ),
    "cluster_slots_fail": (
        "redis_cluster_slots_fail",
        GAUGE,
        "Slots whose node the cluster agrees has failed (FAIL).",
    ),
    "cluster_known_nodes": ("redis_cluster_known_nodes", GAUGE, "Nodes known to this node."),
    "cluster_size": ("redis_cluster_size", GAUGE, "Primaries serving at least one slot."),
    "cluster_current_epoch": ("redis_cluster_current_epoch", GAUGE, "Current cluster epoch."),
    "cluster_my_epoch": ("redis_cluster_my_epoch", GAUGE, "Config epoch of this node."),
    "cluster_stats_messages_sent": (
        "redis_cluster_messages_sent_total",
        GAUGE,
        "Cluster bus messages sent.",
    ),
    "cluster_stats_messages_received": (
        "redis_cluster_messages_received_total",
        GAUGE,
        "Cluster bus messages received.",
    ),
    "total_cluster_links_buffer_limit_exceeded": (
        "redis_cluster_links_buffer_limit_exceeded_total",
        COUNTER,
        "Cluster links freed for exceeding the send buffer limit.",
    ),
}
_FLAGS = ("fail", "fail?", "handshake", "noaddr", "nofailover")


@dataclasses.dataclass(frozen=True)
class ClusterNode:
    """One line of CLUSTER NODES."""

    node_id: str
    host: str
    port: int
    flags: frozenset[str]
    primary_id: str  # "" for primaries
    link_state: str
    slots: int

    @property
    def role(self) -> str:
        return "slave" if "slave" in self.flags else "master"

    @property
    def shard(self) -> str:
        """The primary's node id: a primary and its replicas form one shard."""
        return self.primary_id or self.node_id


def parse_cluster_nodes(text: str) -> list[ClusterNode]:
    """Parse CLUSTER NODES. Lines that do not parse are skipped."""
    nodes = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        address = parts[1].split("@", 1)[0].split(",", 1)[0]
        host, _, port = address.rpartition(":")
        if not port.isdecimal():
            continue
        primary = "" if parts[3] == "-" else parts[3]
        nodes.append(
            ClusterNode(
                parts[0],
                host,
                int(port),
                frozenset(parts[2].split(",")),
                primary,
                parts[7],
                _count_slots(parts[8:]),
            )
        )
    return nodes


def _count_slots(ranges: list[str]) -> int:
    count = 0
    for item in ranges:
        if item.startswith("["):
            continue  # a slot being imported or migrated, listed besides its range
        low, _, high = item.partition("-")
        if low.isdecimal():
            count += max(int(high) - int(low) + 1, 0) if high.isdecimal() else 1
    return count


def add_cluster(metrics: MetricSet, info: bytes | None, nodes: bytes | None) -> None:
    """Metrics of CLUSTER INFO and, from CLUSTER NODES, this node and its view of peers."""
    if info is not None:
        for key, value in parse_info(info).items():
            number = to_float(value)
            if key == "cluster_state":
                metrics.add(
                    "redis_cluster_state",
                    GAUGE,
                    "1 if the cluster state is ok as seen by this node.",
                    1.0 if value == "ok" else 0.0,
                )
            elif key in CLUSTER_FIELDS and number is not None:
                name, type_, help_ = CLUSTER_FIELDS[key]
                metrics.add(name, type_, help_, number)
            elif number is not None:
                metrics.add(metric_name("redis_", key), GAUGE, f"CLUSTER INFO field {key}.", number)
    if nodes is not None:
        _add_nodes(metrics, parse_cluster_nodes(nodes.decode("utf-8", "replace")))


def _add_nodes(metrics: MetricSet, nodes: list[ClusterNode]) -> None:
    peers = {"connected": 0, "disconnected": 0}
    flagged = dict.fromkeys(_FLAGS, 0)
    for node in nodes:
        if "myself" in node.flags:
            metrics.add(
                "redis_cluster_node_info",
                GAUGE,
                "This node's place in the cluster, as labels.",
                1,
                (
                    ("node_id", node.node_id),
                    ("role", node.role),
                    ("primary_id", node.primary_id),
                    ("shard", node.shard),
                ),
            )
            metrics.add("redis_cluster_node_slots", GAUGE, "Slots served by this node.", node.slots)
            continue
        peers[node.link_state] = peers.get(node.link_state, 0) + 1
        for flag in _FLAGS:
            if flag in node.flags:
                flagged[flag] += 1
    for state, count in peers.items():
        metrics.add(
            "redis_cluster_peers",
            GAUGE,
            "Other nodes by the state of this node's link to them.",
            count,
            (("link_state", state),),
        )
    for flag, count in flagged.items():
        metrics.add(
            "redis_cluster_peers_flagged",
            GAUGE,
            "Other nodes carrying a flag (fail, fail? = pfail, handshake, ...).",
            count,
            (("flag", flag),),
        )
