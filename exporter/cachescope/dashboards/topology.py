"""Redis Cluster and Sentinel: slots, node states, failovers, command latency, sentinels."""

from __future__ import annotations

from typing import Any

from cachescope.dashboards import grafana
from cachescope.dashboards.common import job_variable
from cachescope.dashboards.redis_cluster import cluster_panels, latency_panels
from cachescope.dashboards.redis_sentinel import sentinel_panels

UID = "cachescope-redis-topology"


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
        grafana.row("Command latency"),
        *latency_panels(thresholds),
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
