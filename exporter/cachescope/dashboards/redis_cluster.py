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


# The recording rules' windowed percentiles (rules/recording.py): each cluster's and master
# set's from the buckets of all its nodes, and each node's, which the alert judges.
WHOLE = 'job=~"$job", cluster=~"$cluster"'
SET = 'job=~"$job", master_set=~"$master_set"'
LATENCY = "redis_command_latency_seconds"


def latency_panels(t: dict[str, Any]) -> list[grafana.Panel]:
    """Per-command p99 and p50 over 5 minutes of whole clusters and master sets, and nodes."""
    return [
        series(
            t,
            "Cluster p99 latency by command (5m)",
            [(f"cluster_cmd:{LATENCY}:p99_rate5m{{SEL}}", "{{cluster}} {{cmd}}")],
            "99th percentile of every node's calls together, from the summed LATENCY HISTOGRAM"
            " buckets (Redis 7+).",
            "s",
            selector=WHOLE,
        ),
        series(
            t,
            "Cluster p50 latency by command (5m)",
            [(f"cluster_cmd:{LATENCY}:p50_rate5m{{SEL}}", "{{cluster}} {{cmd}}")],
            "Median of every node's calls together, from the summed buckets.",
            "s",
            selector=WHOLE,
        ),
        series(
            t,
            "Node p99 latency by command (5m)",
            [(f"instance_cmd:{LATENCY}:p99_rate5m{{SEL}}", "{{instance}} {{cmd}}")],
            "Each node's own 99th percentile: the one a slow cluster p99 comes from.",
            "s",
            [Bound("RedisCommandLatencyHigh")],
            selector=CLUSTER,
        ),
        series(
            t,
            "Master set p99 latency by command (5m)",
            [(f"master_set_cmd:{LATENCY}:p99_rate5m{{SEL}}", "{{master_set}} {{cmd}}")],
            "99th percentile of the calls to every node of a Sentinel master set together.",
            "s",
            selector=SET,
        ),
        series(
            t,
            "Node p99 latency by command since start",
            [
                (
                    'max by (instance, cmd) (redis_latency_percentiles_usec{SEL, quantile="99"})'
                    " / 1e6",
                    "{{instance}} {{cmd}}",
                )
            ],
            "From INFO latencystats: since each node started, and not comparable across nodes.",
            "s",
            selector=CLUSTER,
        ),
    ]
