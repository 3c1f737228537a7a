"""Redis Cluster and Sentinel: slot coverage, node states, failovers, each sentinel's view."""

from __future__ import annotations

from typing import Any

from cachescope.dashboards import grafana
from cachescope.dashboards.bounds import Bound
from cachescope.dashboards.common import OK_MAPPINGS, job_variable, panel_kw, q, series, single

UID = "cachescope-redis-topology"
CLUSTER = 'job=~"$job", cluster=~"$cluster", instance=~"$instance"'
SENTINEL = 'job=~"$job", instance=~"$sentinel", master_name=~"$master_set"'
SET_NODES = 'job=~"$job", master_set=~"$master_set"'
NODE = ("job", "cluster", "instance")


def _by(labels: tuple[str, ...], expr: str, how: str = "max") -> str:
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
        _by(NODE, 'redis_cluster_peers{SEL, link_state="disconnected"}', "sum")
        + " or "
        + _by(NODE, "0 * redis_cluster_state{SEL}")
    )
    queries = [
        _by((*NODE, "role", "shard", "node_id"), "redis_cluster_node_info{SEL}"),
        _by(NODE, "redis_cluster_node_slots{SEL}"),
        _by(NODE, "redis_up{SEL}"),
        disconnected,
        _by(NODE, 'redis_cluster_peers_flagged{SEL, flag=~"fail|fail\\\\?"}', "sum"),
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
            grafana.column("Value #C", "up", **panel_kw(t, runbooks=["RedisDown"])),
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
    ]
    return [*stats, nodes, *trends]


def sentinel_panels(t: dict[str, Any]) -> list[grafana.Panel]:
    """Each sentinel's view of each master set, and the set's nodes."""
    s = SENTINEL
    who = ("job", "instance", "master_name")
    queries = [
        _by((*who, "master_address", "master_status"), "redis_sentinel_master_status{SEL}"),
        _by(who, "redis_sentinel_master_ok_sentinels{SEL}"),
        _by(who, "redis_sentinel_master_setting_ckquorum{SEL}"),
        _by(who, "redis_sentinel_master_ok_slaves{SEL}"),
        _by(who, "redis_sentinel_master_odown{SEL}"),
        _by(who, "redis_sentinel_master_ckquorum_status{SEL}"),
    ]
    view = grafana.table(
        "Master sets as each sentinel sees them",
        [
            grafana.target(q(e, s), ref=chr(ord("A") + i), instant=True)
            for i, e in enumerate(queries)
        ],
        "Status, healthy sentinels against the quorum, healthy replicas, ODOWN and CKQUORUM.",
        [
            grafana.column(
                "Value #A", "status ok", **panel_kw(t, runbooks=["RedisSentinelMasterDown"])
            ),
            grafana.column(
                "Value #B", "ok sentinels", **panel_kw(t, runbooks=["RedisSentinelQuorumAtRisk"])
            ),
            grafana.column("Value #C", "quorum"),
            grafana.column("Value #D", "ok replicas"),
            grafana.column(
                "Value #E", "odown", **panel_kw(t, runbooks=["RedisSentinelMasterOdown"])
            ),
            grafana.column(
                "Value #F", "ckquorum ok", **panel_kw(t, runbooks=["RedisSentinelQuorumLost"])
            ),
        ],
        sort_by="odown",
    )
    return [
        view,
        series(
            t,
            "Healthy sentinels and quorum",
            [
                (
                    "min by (master_name) (redis_sentinel_master_ok_sentinels{SEL})",
                    "{{master_name}} ok sentinels",
                ),
                (
                    "max by (master_name) (redis_sentinel_master_setting_ckquorum{SEL})",
                    "{{master_name}} quorum",
                ),
            ],
            "Losing one more sentinel must leave at least the quorum.",
            selector=s,
            runbooks=["RedisSentinelQuorumAtRisk"],
        ),
        series(
            t,
            "Master down (sdown / odown)",
            [
                (
                    "max by (instance, master_name) (redis_sentinel_master_sdown{SEL})",
                    "{{instance}} {{master_name}} sdown",
                ),
                (
                    "max by (instance, master_name) (redis_sentinel_master_odown{SEL})",
                    "{{instance}} {{master_name}} odown",
                ),
            ],
            "sdown: this sentinel sees the master down; odown: the sentinels agree.",
            selector=s,
            runbooks=["RedisSentinelMasterDown", "RedisSentinelMasterOdown"],
        ),
        series(
            t,
            "Failovers (config epoch)",
            [
                (
                    "max by (master_name) (redis_sentinel_master_config_epoch{SEL})",
                    "{{master_name}}",
                ),
                (
                    "max by (master_name) (redis_sentinel_master_failover_in_progress{SEL})",
                    "{{master_name}} failover in progress",
                ),
            ],
            "The epoch grows with each failover.",
            selector=s,
            runbooks=["RedisSentinelFailover"],
        ),
        series(
            t,
            "Sentinel TILT",
            [
                ('redis_sentinel_tilt{job=~"$job", instance=~"$sentinel"}', "{{instance}}"),
            ],
            "1 while a sentinel distrusts its clock and does not act.",
            selector=s,
            runbooks=["RedisSentinelTilt"],
        ),
        series(
            t,
            "Master set nodes by role",
            [
                (
                    "count by (master_set, role) (redis_instance_info{SEL})",
                    "{{master_set}} {{role}}",
                ),
            ],
            "Nodes discovered through the sentinels, by the role their INFO reports.",
            selector=SET_NODES,
        ),
        series(
            t,
            "Replica lag in the master set",
            [
                (
                    "redis_connected_slave_lag_seconds{SEL}",
                    "{{instance}} -> {{slave_ip}}:{{slave_port}}",
                ),
            ],
            "On the set's primary, per replica.",
            "s",
            [Bound("RedisReplicaLagging")],
            selector=SET_NODES,
        ),
    ]


def build(thresholds: dict[str, Any]) -> dict[str, Any]:
    """The Redis Cluster and Sentinel dashboard."""
    variables = [
        job_variable("redis_up"),
        grafana.query_variable(
            "cluster", "Cluster", 'label_values(redis_cluster_state{job=~"$job"}, cluster)'
        ),
        grafana.query_variable(
            "instance",
            "Node",
            'label_values(redis_cluster_state{job=~"$job", cluster=~"$cluster"}, instance)',
        ),
        grafana.query_variable(
            "master_set", "Master set", 'label_values(redis_up{job=~"$job"}, master_set)'
        ),
        grafana.query_variable(
            "sentinel",
            "Sentinel",
            'label_values(redis_sentinel_master_status{job=~"$job"}, instance)',
        ),
    ]
    panels = [
        grafana.row("Cluster"),
        *cluster_panels(thresholds),
        grafana.row("Sentinel"),
        *sentinel_panels(thresholds),
    ]
    return grafana.dashboard(
        UID,
        "Redis Cluster and Sentinel",
        "Cluster slot coverage, node states and failovers; each sentinel's view of its master"
        " sets and the nodes behind them.",
        variables,
        panels,
    )
