"""Label names cachescope's own series carry, which a target's `labels:` may not reuse.

A target label of the same name as one a family adds would give a sample that label
twice: Prometheus refuses the whole /metrics page then, every target's series with it.
tests/test_label_names.py checks this list against the code and a live /metrics.
"""

from __future__ import annotations

# redis_instance_info's labels, as redis_exporter names them (redis/identity.py adds it).
INSTANCE_LABELS = (
    "role",
    "redis_version",
    "redis_build_id",
    "redis_mode",
    "os",
    "maxmemory_policy",
    "tcp_port",
    "run_id",
    "process_id",
    "master_replid",
)
# Present only on some servers (Valkey, KeyDB, Dragonfly, managed services);
# added to redis_instance_info where they exist, so Redis' label set stays as it was.
OPTIONAL_INSTANCE_LABELS = (
    "server_name",
    "valkey_version",
    "valkey_release_stage",
    "keydb_version",
    "dragonfly_version",
    "availability_zone",
)
# Labels of redis_module_info, as redis_exporter names them.
MODULE_LABELS = ("name", "ver", "api", "filters", "usedby", "using")
# --append-instance-role-label's, on every series of a Redis target.
ROLE_LABEL = "instance_role"

# Prometheus' own target labels, and the exporter's (cachescope_*, build info).
_PROMETHEUS = ("instance", "job", "err", "error", "reason", "capability", "seed", "source")
_EXPORTER = ("version", "python_version", "encoding", "status", "command", "check", "severity")
# Redis: commandstats and latency (percentiles, histograms), keyspace, replication, cluster,
# sentinel, the client breakdown, keyspace sampling and streams; ROLE_LABEL is
# --append-instance-role-label's.
_REDIS = (
    ("cmd", "quantile", "le", "event_name", "db", "role", ROLE_LABEL)
    + ("slave_ip", "slave_port", "slave_state", "master_host", "master_port", "read_only")
    + ("node_id", "primary_id", "shard", "link_state", "flag", "master_address")
    + ("master_name", "master_status")
    + ("client_name", "family", "idle")
    + ("key", "key_group", "type", "stream", "group")
    + ("index_name",)
)
_MEMCACHED = ("slab", "lru")
# Target labels that discovery gives a node, not labels a family adds: a user may set them
# too (a plain target's `cluster: payments`), and a discovered node's own value wins.
DISCOVERY_LABELS = ("cluster", "master_set")

FAMILY_LABELS: frozenset[str] = frozenset(
    _PROMETHEUS
    + _EXPORTER
    + _REDIS
    + _MEMCACHED
    + INSTANCE_LABELS
    + OPTIONAL_INSTANCE_LABELS
    + MODULE_LABELS
)
