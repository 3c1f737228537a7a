"""Recording rules: the rates and ratios the alerts and dashboards share.

Every series is picked by `@{selector}` and matched on (job, instance), so the rules
work on /metrics (instance = target name) and /scrape alike. The alerts are in
cachescope/alerts/.
"""

from __future__ import annotations

from cachescope.rules.model import Group, Recording

_GETS = 'memcached_commands_total{@{selector}, command="get", status="%s"}'

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
