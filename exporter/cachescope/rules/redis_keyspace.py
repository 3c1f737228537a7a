"""Redis rules on the keyspace sampler's findings (targets with `keyspace:` configured).

The sampler's series exist only where it runs, so these alerts are silent elsewhere.
"""

from __future__ import annotations

from cachescope.rules.model import Alert, Group

KEYSPACE = Group(
    "cachescope.redis.keyspace",
    (
        Alert(
            "RedisBigKeys",
            "max by (job, instance, db) (redis_big_key_memory_bytes{@{selector}}) > @{threshold}",
            "Redis holds a very big key.",
            "The biggest sampled key in {{ $labels.db }} of Redis {{ $labels.instance }} uses"
            " {{ $value | humanize1024 }}B (threshold @{threshold|bytes}); the Big keys panel"
            " names it.",
        ),
        Alert(
            "RedisKeyGroupWithoutTtl",
            "redis_key_group_no_ttl_keys_estimated{@{selector}}\n"
            "/ (redis_key_group_keys_estimated{@{selector}} > @{min_keys}) > @{threshold}\n"
            "and on (job, instance, db, key_group)\n"
            "delta(redis_key_group_keys_estimated{@{selector}}[@{window}]) > 0",
            "A Redis key group keeps growing without TTLs.",
            "{{ $value | humanizePercentage }} of the keys of group {{ $labels.key_group }}"
            " ({{ $labels.db }}) on Redis {{ $labels.instance }} have no TTL, and the group grew"
            " over the last @{window}.",
        ),
    ),
)

GROUPS = (KEYSPACE,)
