"""Redis Sentinel: each sentinel's view of its master sets, and the sets' nodes."""

from __future__ import annotations

from typing import Any

from cachescope.dashboards import grafana
from cachescope.dashboards.bounds import Bound
from cachescope.dashboards.common import panel_kw, q, series
from cachescope.dashboards.redis_cluster import by

SENTINEL = 'job=~"$job", instance=~"$sentinel", master_name=~"$master_set"'
SET_NODES = 'job=~"$job", master_set=~"$master_set"'


def sentinel_panels(t: dict[str, Any]) -> list[grafana.Panel]:
    """Each sentinel's view of each master set, and the set's nodes."""
    s = SENTINEL
    who = ("job", "instance", "master_name")
    queries = [
        by((*who, "master_address", "master_status"), "redis_sentinel_master_status{SEL}"),
        by(who, "redis_sentinel_master_ok_sentinels{SEL}"),
        by(who, "redis_sentinel_master_setting_ckquorum{SEL}"),
        by(who, "redis_sentinel_master_ok_slaves{SEL}"),
        by(who, "redis_sentinel_master_odown{SEL}"),
        by(who, "redis_sentinel_master_ckquorum_status{SEL}"),
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
