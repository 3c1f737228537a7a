"""Recording rules: the rates and ratios the alerts and dashboards share.

Every series is picked by `@{selector}` and matched on (job, instance), so the rules
work on /metrics (instance = target name) and /scrape alike. The alerts are in
cachescope/alerts/.
"""

from __future__ import annotations

from cachescope.rules.model import Group, Recording

_GETS = 'memcached_commands_total{@{selector}, command="get", status="%s"}'
# LATENCY HISTOGRAM (Redis 7+) under redis_exporter's name: buckets in microseconds.
_BUCKETS = "rate(redis_commands_latencies_usec_bucket{@{selector}%s}[5m])"
_QUANTILES = {"p50": "0.5", "p99": "0.99"}
# Whose percentile: one node (every target label kept), or every node of a cluster or a
# master set, summed bucket by bucket first, which the nodes' percentiles cannot be.
_SCOPES = {
    "instance_cmd": ("", ""),
    "cluster_cmd": (', cluster!=""', "job, cluster, cmd, le"),
    "master_set_cmd": (', master_set!=""', "job, master_set, cmd, le"),
}


def _quantile(level: str, name: str) -> Recording:
    """A windowed percentile per command (p50, p99 over 5 minutes) in seconds, at `level`."""
    matcher, by = _SCOPES[level]
    buckets = _BUCKETS % matcher
    if by:
        buckets = f"sum by ({by}) ({buckets})"
    return Recording(
        f"{level}:redis_command_latency_seconds:{name}_rate5m",
        f"histogram_quantile({_QUANTILES[name]}, {buckets}) / 1e6",
    )


LATENCY = tuple(_quantile(level, name) for level in _SCOPES for name in _QUANTILES)

REDIS = Group(
    "cachescope.redis.recording",
    (
        Recording(
            "instance:redis_keyspace_hits:rate5m",
            "rate(redis_keyspace_hits_total{@{selector}}[5m])",
        ),
        Recording(
            "instance:redis_keyspace_misses:rate5m",
            "rate(redis_keyspace_misses_total{@{selector}}[5m])",
        ),
        Recording(
            "instance:redis_keyspace_hit_ratio:ratio_rate5m",
            "instance:redis_keyspace_hits:rate5m{@{selector}}\n"
            "/\n"
            "(instance:redis_keyspace_hits:rate5m{@{selector}}"
            " + instance:redis_keyspace_misses:rate5m{@{selector}} > 0)",
        ),
        Recording(
            "instance:redis_memory_utilization:ratio",
            "redis_memory_used_bytes{@{selector}} / (redis_memory_max_bytes{@{selector}} > 0)",
        ),
        Recording(
            "instance:redis_evicted_keys:rate5m",
            "rate(redis_evicted_keys_total{@{selector}}[5m])",
        ),
        Recording(
            "instance:redis_expired_keys:rate5m",
            "rate(redis_expired_keys_total{@{selector}}[5m])",
        ),
        Recording(
            "instance:redis_commands_processed:rate5m",
            "rate(redis_commands_processed_total{@{selector}}[5m])",
        ),
        Recording(
            "instance_cmd:redis_command_latency_seconds:avg_rate5m",
            "rate(redis_commands_duration_seconds_total{@{selector}}[5m])\n"
            "/\n"
            "(rate(redis_commands_total{@{selector}}[5m]) > 0)",
        ),
        *LATENCY,
    ),
)

MEMCACHED = Group(
    "cachescope.memcached.recording",
    (
        Recording(
            "instance:memcached_get_hits:rate5m",
            f"sum without (command, status) (rate({_GETS % 'hit'}[5m]))",
        ),
        Recording(
            "instance:memcached_get_misses:rate5m",
            f"sum without (command, status) (rate({_GETS % 'miss'}[5m]))",
        ),
        Recording(
            "instance:memcached_hit_ratio:ratio_rate5m",
            "instance:memcached_get_hits:rate5m{@{selector}}\n"
            "/\n"
            "(instance:memcached_get_hits:rate5m{@{selector}}"
            " + instance:memcached_get_misses:rate5m{@{selector}} > 0)",
        ),
        Recording(
            "instance:memcached_memory_utilization:ratio",
            "memcached_current_bytes{@{selector}} / (memcached_limit_bytes{@{selector}} > 0)",
        ),
        Recording(
            "instance:memcached_evicted_items:rate5m",
            "rate(memcached_items_evicted_total{@{selector}}[5m])",
        ),
        Recording(
            "instance:memcached_commands:rate5m",
            "sum without (command, status) (rate(memcached_commands_total{@{selector}}[5m]))",
        ),
    ),
)
