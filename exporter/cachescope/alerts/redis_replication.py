"""Redis alerts on replication: missing replicas, broken links, lag, full resyncs."""

from __future__ import annotations

from cachescope.alerts.model import AlertDef
from cachescope.analyze.checks import Params
from cachescope.analyze.figures import Figures

GROUP = "cachescope.redis.replication"


def _link_down(f: Figures, p: Params) -> str | None:
    return "replica has no link to its primary" if f.link_up is False else None


def _not_online(f: Figures, p: Params) -> str | None:
    stuck = [r for r in f.replicas if r.state != "online"]
    if not stuck:
        return None
    return "replicas not online: " + ", ".join(f"{r.address} ({r.state})" for r in stuck)


def _lagging(f: Figures, p: Params) -> str | None:
    late = [r for r in f.replicas if r.lag_seconds is not None and r.lag_seconds > p["threshold"]]
    if not late:
        return None
    return "replicas lagging: " + ", ".join(f"{r.address} ({r.lag_seconds:g}s)" for r in late)


def _full_syncs(f: Figures, p: Params) -> str | None:
    if f.full_syncs is None or f.full_syncs == 0:
        return None
    repeated = f.full_syncs - len(f.replicas)  # one per replica is its first sync
    if repeated <= p["threshold"]:
        return None
    return f"{f.full_syncs:g} full resyncs sent to {len(f.replicas)} replicas within the hour"


ALERTS = (
    AlertDef(
        name="RedisReplicaMissing",
        expr=(
            "redis_connected_slaves{@{selector}} == 0\n"
            'and on (job, instance) redis_instance_info{@{selector}, role="master"}\n'
            "and on (job, instance)"
            " max_over_time(redis_connected_slaves{@{selector}}[@{lookback}]) > 0"
        ),
        summary="A Redis primary lost all its replicas.",
        description=(
            "Primary {{ $labels.instance }} has no replica attached, although it had one in"
            " the last @{lookback}: a failure now loses data and has nothing to fail over to."
        ),
        category="replication",
        action=(
            "bring the replica back: restart it, check replicaof and masterauth, and that it "
            "reaches the primary"
        ),
        unjudged=(
            "it needs history: the primary had a replica within its lookback window, which "
            "two samples cannot show"
        ),
    ),
    AlertDef(
        name="RedisReplicaLinkDown",
        expr="redis_master_link_up{@{selector}} == 0",
        summary="A Redis replica lost its link to the primary.",
        description=(
            "Replica {{ $labels.instance }} has had no link to its primary"
            " {{ $labels.master_host }}:{{ $labels.master_port }} for more than @{for};"
            " it serves stale data."
        ),
        category="replication",
        action=(
            "check the primary is up; fix connectivity or masterauth; if the link drops during "
            "sync, raise repl-timeout or the replica output buffer limit"
        ),
        check=_link_down,
    ),
    AlertDef(
        name="RedisReplicaNotOnline",
        expr='redis_connected_slave_offset_bytes{@{selector}, slave_state!="online"}',
        summary="A Redis replica is stuck synchronizing.",
        description=(
            "Replica {{ $labels.slave_ip }}:{{ $labels.slave_port }} of primary"
            " {{ $labels.instance }} has been in state {{ $labels.slave_state }} for more"
            " than @{for}."
        ),
        category="replication",
        action=(
            "raise client-output-buffer-limit replica and repl-backlog-size; use "
            "repl-diskless-sync on slow disks"
        ),
        check=_not_online,
    ),
    AlertDef(
        name="RedisReplicaLagging",
        expr="redis_connected_slave_lag_seconds{@{selector}} > @{threshold}",
        summary="A Redis replica lags behind its primary.",
        description=(
            "Replica {{ $labels.slave_ip }}:{{ $labels.slave_port }} of primary"
            " {{ $labels.instance }} last acknowledged {{ $value | humanizeDuration }} ago"
            " (threshold @{threshold}s)."
        ),
        category="replication",
        action=(
            "check the replica host (CPU, disk, swap) and the network; relax its persistence "
            "or move reads elsewhere"
        ),
        check=_lagging,
    ),
    AlertDef(
        name="RedisFullResyncs",
        # A replica that is added or restarts costs one full resync: only the ones beyond one
        # per connected replica are repeated (a scale-out or a rolling restart stays quiet).
        # Matched on all labels: both come from one scrape, and instance_role (when on)
        # must pair the old role's increase after a failover with its own series.
        expr=(
            "increase(redis_replica_resyncs_full{@{selector}}[1h])\n"
            "- redis_connected_slaves{@{selector}}\n"
            "> @{threshold}"
        ),
        summary="Redis replicas keep doing full resyncs.",
        description=(
            "Primary {{ $labels.instance }} sent {{ $value | humanize }} more full resyncs in"
            " the last hour than it has replicas (threshold @{threshold}): each one forks and"
            " copies the whole dataset."
        ),
        category="replication",
        action=(
            "raise repl-backlog-size so brief disconnects resync partially, and fix the reason "
            "for disconnects"
        ),
        check=_full_syncs,
    ),
)
