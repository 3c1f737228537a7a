"""Redis Cluster alerts: cluster state, slot coverage, node links and failures."""

from __future__ import annotations

import operator
from collections.abc import Callable

from cachescope.alerts.model import AlertDef
from cachescope.analyze.checks import Check, Params, pct
from cachescope.analyze.figures import Figures

GROUP = "cachescope.redis.cluster"
SLOTS = 16384


def _cluster(key: str, failing: Callable[[float, float], bool], bad: float, text: str) -> Check:
    """A cluster check: the figure `key` is `failing` compared with `bad`."""

    def run(f: Figures, p: Params) -> str | None:
        value = f.cluster.get(key)
        return text.format(value=value) if value is not None and failing(value, bad) else None

    return run


def _redirected(f: Figures, p: Params) -> str | None:
    """The share of commands answered MOVED during the sample (they are not `processed`)."""
    moved, _ = f.events.get("MOVED", (0.0, 0.0))
    commands = (f.ops_per_second or 0.0) * f.interval
    if moved <= 0 or moved / (commands + moved) <= p["threshold"]:
        return None
    share = moved / (commands + moved)
    return f"{pct(share)} of commands answered MOVED: a client does not follow redirections"


ALERTS = (
    AlertDef(
        name="RedisClusterStateNotOk",
        expr="redis_cluster_state{@{selector}} == 0",
        summary="Redis Cluster is down (CLUSTERDOWN).",
        description=(
            "Cluster node {{ $labels.instance }} has seen cluster_state fail for more than"
            " @{for}; it answers CLUSTERDOWN."
        ),
        category="cluster",
        action=(
            "restore the failed primaries or promote a replica (CLUSTER FAILOVER FORCE); "
            "give every primary a replica"
        ),
        check=_cluster("state", operator.eq, 0, "cluster_state is fail (CLUSTERDOWN)"),
    ),
    AlertDef(
        name="RedisClusterSlotsUncovered",
        expr="redis_cluster_slots_assigned{@{selector}} < 16384",
        summary="Redis Cluster has slots no node serves.",
        description=(
            "Cluster node {{ $labels.instance }} sees only {{ $value }} of 16384 slots assigned."
        ),
        category="cluster",
        action="redis-cli --cluster fix, and finish any interrupted resharding",
        check=_cluster(
            "slots_assigned", operator.lt, SLOTS, "only {value:.0f} of 16384 slots are assigned"
        ),
    ),
    AlertDef(
        name="RedisClusterSlotsFailing",
        expr="redis_cluster_slots_fail{@{selector}} > 0",
        summary="Redis Cluster slots are served by a failed node.",
        description=(
            "Cluster node {{ $labels.instance }} sees {{ $value }} slots on nodes the"
            " cluster agrees have failed."
        ),
        category="cluster",
        action=(
            "restart the failed node or promote a replica by hand; add replicas to shards without"
        ),
        check=_cluster("slots_fail", operator.gt, 0, "{value:.0f} slots on failed nodes"),
    ),
    AlertDef(
        name="RedisClusterSlotsPfail",
        expr="redis_cluster_slots_pfail{@{selector}} > 0",
        summary="Redis Cluster slots are served by a node that may be failing.",
        description=(
            "Cluster node {{ $labels.instance }} sees {{ $value }} slots on nodes it cannot"
            " reach (PFAIL)."
        ),
        category="cluster",
        action="check the suspected node and the cluster bus port (port + 10000) both ways",
        check=_cluster(
            "slots_pfail", operator.gt, 0, "{value:.0f} slots on nodes that may be failing (PFAIL)"
        ),
    ),
    AlertDef(
        name="RedisClusterNodeDisconnected",
        expr='redis_cluster_peers{@{selector}, link_state="disconnected"} > 0',
        summary="A Redis Cluster node lost its bus link to peers.",
        description=(
            "Cluster node {{ $labels.instance }} has no bus link to {{ $value }} other nodes."
        ),
        category="cluster",
        action="restore connectivity on the cluster bus port; CLUSTER FORGET nodes gone for good",
        check=_cluster("disconnected", operator.gt, 0, "no cluster-bus link to {value:.0f} nodes"),
    ),
    AlertDef(
        # A cluster-aware client sees one MOVED per slot that moved, then asks the right node;
        # a steady share of MOVED replies is a client that never learns the slot map.
        name="RedisClusterMovedHigh",
        expr=(
            'rate(redis_errors_total{@{selector}, err="MOVED"}[5m])\n'
            "/ ignoring (err)\n"
            "(\n"
            '  rate(redis_errors_total{@{selector}, err="MOVED"}[5m])\n'
            "  + ignoring (err) rate(redis_commands_processed_total{@{selector}}[5m])\n"
            "  > 0\n"
            ")\n"
            "> @{threshold}"
        ),
        summary="Redis Cluster sends many commands to another node (MOVED).",
        description=(
            "Cluster node {{ $labels.instance }} answered {{ $value | humanizePercentage }} of"
            " its commands with MOVED over 5m (threshold @{threshold|pct}): a client does not"
            " follow the cluster's redirections."
        ),
        category="cluster",
        action=(
            "find the client (CLIENT LIST, the application's driver settings) and switch it to "
            "a cluster-aware driver or mode; a short burst during resharding is normal"
        ),
        check=_redirected,
    ),
    AlertDef(
        name="RedisClusterNodeFailed",
        expr='redis_cluster_peers_flagged{@{selector}, flag="fail"} > 0',
        summary="Redis Cluster marked nodes as failed.",
        description=(
            "Cluster node {{ $labels.instance }} sees {{ $value }} other nodes flagged fail."
        ),
        category="cluster",
        action="restart or replace the failed node and let it rejoin as a replica",
        check=_cluster("failed_peers", operator.gt, 0, "{value:.0f} nodes flagged fail"),
    ),
)
