"""Label names cachescope's own series carry, which a target's `labels:` may not reuse.

A target label of the same name as one a family adds would give a sample that label
twice: Prometheus refuses the whole /metrics page then, every target's series with it.
tests/test_label_names.py checks this list against the code and a live /metrics.
"""

from __future__ import annotations

from cachescope.redis.identity import (
    INSTANCE_LABELS,
    MODULE_LABELS,
    OPTIONAL_INSTANCE_LABELS,
    ROLE_LABEL,
)

# Prometheus' own target labels, and the exporter's (cachescope_*, build info).
_PROMETHEUS = ("instance", "job", "err", "error", "reason", "capability", "seed", "source")
_EXPORTER = ("version", "python_version", "encoding", "cluster", "status", "command")
# Redis: commandstats and latency, keyspace, replication, cluster, sentinel, the client
# breakdown, keyspace sampling and streams; ROLE_LABEL is --append-instance-role-label's.
_REDIS = (
    ("cmd", "quantile", "event_name", "db", "role", ROLE_LABEL)
    + ("slave_ip", "slave_port", "slave_state", "master_host", "master_port", "read_only")
    + ("node_id", "primary_id", "shard", "link_state", "flag", "master_address")
    + ("master_set", "master_name", "master_status")
    + ("client_name", "family", "idle")
    + ("key", "key_group", "type", "stream", "group")
)
_MEMCACHED = ("slab", "lru")

FAMILY_LABELS: frozenset[str] = frozenset(
    _PROMETHEUS
    + _EXPORTER
    + _REDIS
    + _MEMCACHED
    + INSTANCE_LABELS
    + OPTIONAL_INSTANCE_LABELS
    + MODULE_LABELS
)
