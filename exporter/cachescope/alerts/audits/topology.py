"""Cluster and Sentinel settings: failure detection and failover as this node sees them.

A sentinel has no CONFIG: its check reads the quorum and the sentinels seen up from the
sample's SENTINEL MASTERS figures, so it needs no CONFIG name.
"""

from __future__ import annotations

from cachescope.alerts.audits.model import AuditDef, AuditIssue, Settings, number
from cachescope.analyze.figures import Figures

# cluster-node-timeout (ms) bounds: below the low one a fork of a big dataset or a paused
# host outlasts it and a healthy primary is failed over; above the high one a dead
# primary's slots refuse writes for more than a minute. 15000 is Redis's default.
NODE_TIMEOUT_MS = (5000, 60000)
NODE_TIMEOUT_FIX_MS = 15000


def _cluster_full_coverage(s: Settings, f: Figures) -> AuditIssue | None:
    if s.info.get("cluster_enabled") != "1":
        return None
    if s.config.get("cluster-require-full-coverage") != "yes":
        return None
    return AuditIssue(
        issue=(
            "cluster-require-full-coverage yes: when one shard loses its primary and has no "
            "replica to promote, this node refuses every command (CLUSTERDOWN), also for the "
            "slots the other shards still serve"
        ),
        evidence={
            "cluster-require-full-coverage": "yes",
            "cluster_slots_assigned": f.cluster.get("slots_assigned"),
        },
        fix="CONFIG SET cluster-require-full-coverage no",
        priority="low",
    )


def _cluster_node_timeout(s: Settings, f: Figures) -> AuditIssue | None:
    if s.info.get("cluster_enabled") != "1":
        return None
    timeout = int(number(s.config, "cluster-node-timeout"))
    low, high = NODE_TIMEOUT_MS
    if low <= timeout <= high:
        return None
    harm = (
        "a fork, a slow disk or a brief network stall marks a healthy primary failed and "
        "starts a failover"
        if timeout < low
        else "a dead primary's slots stay unwritable that long before a replica takes over"
    )
    return AuditIssue(
        issue=f"cluster-node-timeout is {timeout} ms (practice {low}-{high} ms): {harm}",
        evidence={"cluster-node-timeout": timeout, "practice_ms": f"{low}-{high}"},
        fix=f"CONFIG SET cluster-node-timeout {NODE_TIMEOUT_FIX_MS}",
        priority="medium" if timeout < low else "low",
    )


def survives_one_loss(sentinels: int, quorum: int) -> bool:
    """Whether, one sentinel down, the rest reach both the quorum and a majority."""
    return sentinels - 1 >= max(quorum, sentinels // 2 + 1)


def _sentinel_quorum(s: Settings, f: Figures) -> AuditIssue | None:
    for master in f.sentinel_masters:
        if master.ok_sentinels is None or master.quorum is None:
            continue
        count, quorum = int(master.ok_sentinels), int(master.quorum)
        if survives_one_loss(count, quorum):
            continue
        # Under three sentinels no quorum survives a loss: the fix is the sentinel.conf
        # line of a third sentinel (the issue says so), not a command.
        host, _, port = master.address.rpartition(":")
        fix = (
            f"SENTINEL SET {master.name} quorum {count // 2 + 1}"
            if count >= 3
            else f"sentinel monitor {master.name} {host} {port} 2"
        )
        more = "" if count >= 3 else "; run a third sentinel with the fix's sentinel.conf line"
        return AuditIssue(
            issue=(
                f"master set {master.name}: {count} sentinel(s) up with quorum {quorum}; "
                "with one sentinel down the others can no longer agree the primary failed "
                f"or elect a leader, and no failover happens{more}"
            ),
            evidence={"master": master.name, "sentinels": count, "quorum": quorum},
            fix=fix,
            # Fewer sentinels than the quorum now: a failover is impossible already.
            priority="high" if count < quorum else "medium",
        )
    return None


AUDITS = (
    AuditDef(
        name="cluster-full-coverage",
        kind="redis",
        category="availability",
        rationale=(
            "With full coverage required, one shard without a primary stops the whole "
            "cluster; a cache is better served by the shards still up."
        ),
        needs=("cluster-require-full-coverage",),
        check=_cluster_full_coverage,
        action="let the shards still up serve their slots when one shard is lost",
    ),
    AuditDef(
        name="cluster-node-timeout",
        kind="redis",
        category="availability",
        rationale=(
            "The node timeout is both the failure detector and the outage length: too short "
            "fails over healthy primaries, too long keeps dead ones' slots down."
        ),
        needs=("cluster-node-timeout",),
        check=_cluster_node_timeout,
        action="set cluster-node-timeout between 5 and 60 seconds",
    ),
    AuditDef(
        name="sentinel-quorum",
        kind="redis",
        category="availability",
        rationale=(
            "Sentinel needs the quorum to mark a primary down and a majority to fail over; "
            "both must still hold with one sentinel lost, which takes three sentinels or more."
        ),
        needs=(),  # a sentinel has no CONFIG: its SENTINEL MASTERS figures are enough
        check=_sentinel_quorum,
        action="run at least three sentinels with a quorum they reach with one of them down",
    ),
)
