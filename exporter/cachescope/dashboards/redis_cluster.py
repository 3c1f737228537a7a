"""Redis Cluster: is every slot served, by healthy nodes; did anything fail over."""

from __future__ import annotations

from typing import Any

from cachescope.dashboards import grafana
from cachescope.dashboards.bounds import Bound
from cachescope.dashboards.common import OK_MAPPINGS, UP_MAPPINGS, panel_kw, q, series, single

CLUSTER = 'job=~"$job", cluster=~"$cluster", instance=~"$instance"'
NODE = ("job", "cluster", "instance")


def by(labels: tuple[str, ...], expr: str, how: str = "max") -> str:
    """`expr` aggregated by `labels`."""
    return f"{how} by ({', '.join(labels)}) ({expr})"


def cluster_panels(t: dict[str, Any]) -> list[grafana.Panel]:
    """Is every slot served, by healthy nodes, and did anything fail over."""
    c = CLUSTER
    stats = [
        single(
            t,
            "Cluster state",
            "min by (cluster) (redis_cluster_state{SEL})",
            "ok on every node, or CLUSTERDOWN somewhere.",
            runbooks=["RedisClusterStateNotOk"],
            mappings=OK_MAPPINGS,
            selector=c,
            legend="{{cluster}}",
        ),
        single(
            t,
            "Slots assigned",
            "min by (cluster) (redis_cluster_slots_assigned{SEL})",
            "16384 when every slot has a node.",
            runbooks=["RedisClusterSlotsUncovered"],
            selector=c,
            legend="{{cluster}}",
        ),
        single(
            t,
            "Slots pfail",
            "max by (cluster) (redis_cluster_slots_pfail{SEL})",
            "Slots on nodes some node cannot reach.",
            runbooks=["RedisClusterSlotsPfail"],
            selector=c,
            legend="{{cluster}}",
        ),
        single(
            t,
            "Slots fail",
            "max by (cluster) (redis_cluster_slots_fail{SEL})",
            "Slots on failed nodes no replica replaced.",
            runbooks=["RedisClusterSlotsFailing"],
            selector=c,
            legend="{{cluster}}",
        ),
        single(
            t,
            "Primaries with slots",
            "max by (cluster) (redis_cluster_size{SEL})",
            "cluster_size: primaries serving at least one slot.",
            selector=c,
            legend="{{cluster}}",
        ),
        single(
            t,
            "Known nodes",
            "max by (cluster) (redis_cluster_known_nodes{SEL})",
            "Nodes in the cluster, replicas included.",
            selector=c,
            legend="{{cluster}}",
        ),
    ]
    disconnected = (
        by(NODE, 'redis_cluster_peers{SEL, link_state="disconnected"}', "sum")
        + " or "
        + by(NODE, "0 * redis_cluster_state{SEL}")
    )
    queries = [
        by((*NODE, "role", "shard", "node_id"), "redis_cluster_node_info{SEL}"),
        by(NODE, "redis_cluster_node_slots{SEL}"),
        by(NODE, "redis_up{SEL}"),
        disconnected,
        by(NODE, 'redis_cluster_peers_flagged{SEL, flag=~"fail|fail\\\\?"}', "sum"),
    ]
    nodes = grafana.table(
        "Nodes",
        [
            grafana.target(q(e, c), ref=chr(ord("A") + i), instant=True)
            for i, e in enumerate(queries)
        ],
        "Every node of the cluster: role, shard, slots served, and how it sees its peers.",
        [
            grafana.column("Value #B", "slots"),
            grafana.column(
                "Value #C", "up", mappings=UP_MAPPINGS, **panel_kw(t, runbooks=["RedisDown"])
            ),
            grafana.column(
                "Value #D", "links down", **panel_kw(t, runbooks=["RedisClusterNodeDisconnected"])
            ),
            grafana.column(
                "Value #E", "peers failed", **panel_kw(t, runbooks=["RedisClusterNodeFailed"])
            ),
        ],
        sort_by="links down",
        hide=["Value #A"],
    )
    trends = [
        series(
            t,
            "Slots by state",
            [
                ("max by (cluster) (redis_cluster_slots_ok{SEL})", "{{cluster}} ok"),
                ("max by (cluster) (redis_cluster_slots_pfail{SEL})", "{{cluster}} pfail"),
                ("max by (cluster) (redis_cluster_slots_fail{SEL})", "{{cluster}} fail"),
            ],
            "Worst view of any node.",
            selector=c,
        ),
        series(
            t,
            "Peer links by state",
            [
                (
                    "sum by (instance, link_state) (redis_cluster_peers{SEL})",
                    "{{instance}} {{link_state}}",
                ),
            ],
            "Each node's bus links to the others.",
            selector=c,
        ),
        series(
            t,
            "Flagged peers",
            [
                (
                    "max by (cluster, flag) (redis_cluster_peers_flagged{SEL})",
                    "{{cluster}} {{flag}}",
                ),
            ],
            "Peers flagged fail, fail? (pfail), handshake, noaddr ...",
            selector=c,
            runbooks=["RedisClusterNodeFailed"],
        ),
        series(
            t,
            "Cluster epoch",
            [
                ("max by (cluster) (redis_cluster_current_epoch{SEL})", "{{cluster}}"),
            ],
            "Each step up is a failover or a configuration change.",
            selector=c,
        ),
        series(
            t,
            "Primaries",
            [
                ('count by (cluster) (redis_instance_info{SEL, role="master"})', "{{cluster}}"),
            ],
            "Nodes whose INFO says master; it moves with failovers.",
            selector=c,
        ),
        series(
            t,
            "Bus messages/s",
            [
                (
                    "sum by (instance)"
                    " (rate(redis_cluster_messages_sent_total{SEL}[$__rate_interval]))",
                    "{{instance}} sent",
                ),
            ],
            "Cluster bus traffic; a storm follows flapping nodes.",
            selector=c,
        ),
        series(
            t,
            "Commands answered MOVED",
            [
                (
                    'rate(redis_errors_total{SEL, err="MOVED"}[$__rate_interval])'
                    " / ignoring (err) ("
                    'rate(redis_errors_total{SEL, err="MOVED"}[$__rate_interval])'
                    " + ignoring (err)"
                    " rate(redis_commands_processed_total{SEL}[$__rate_interval]) > 0)",
                    "{{instance}}",
                ),
            ],
            "Share of commands sent to the wrong node: a client that ignores redirections.",
            unit="percentunit",
            bounds=[Bound("RedisClusterMovedHigh")],
            selector=c,
        ),
    ]
    return [*stats, nodes, *trends]
