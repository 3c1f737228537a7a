"""Redis alerts on the keyspace sampler's findings (targets with `keyspace:` configured).

The sampler's series exist only where it runs, so these alerts are silent elsewhere, and
analyze, which does not sample keys, cannot judge them.
"""

from __future__ import annotations

from cachescope.alerts.model import AlertDef

GROUP = "cachescope.redis.keyspace"


ALERTS = (
    AlertDef(
        name="RedisBigKeys",
        # without, not by: a target's own labels (cluster, instance_role) stay on the alert
        expr="max without (key, type) (redis_big_key_memory_bytes{@{selector}}) > @{threshold}",
        summary="Redis holds a very big key.",
        description=(
            "The biggest sampled key in {{ $labels.db }} of Redis {{ $labels.instance }} uses"
            " {{ $value | humanize1024 }}B (threshold @{threshold|bytes}); the Big keys panel"
            " names it, with every key above @{notable|bytes}, already too big for a cache."
        ),
        category="keys",
        action=(
            "split big hashes and sets into buckets, trim lists and streams (LTRIM, "
            "XTRIM MAXLEN ~), compress or move blobs; delete a big key with UNLINK, not DEL"
        ),
        unjudged=(
            "it judges the keyspace sampler's findings (MEMORY USAGE of sampled keys), which "
            "analyze does not sample"
        ),
    ),
    AlertDef(
        name="RedisKeyGroupWithoutTtl",
        expr=(
            "redis_key_group_no_ttl_keys_estimated{@{selector}}\n"
            "/ (redis_key_group_keys_estimated{@{selector}} > @{min_keys}) > @{threshold}\n"
            "and on (job, instance, db, key_group)\n"
            "delta(redis_key_group_keys_estimated{@{selector}}[@{window}]) > 0"
        ),
        summary="A Redis key group keeps growing without TTLs.",
        description=(
            "{{ $value | humanizePercentage }} of the keys of group {{ $labels.key_group }}"
            " ({{ $labels.db }}) on Redis {{ $labels.instance }} have no TTL, and the group grew"
            " over the last @{window}."
        ),
        category="keys",
        action=(
            "set a TTL where the keys are written (SET ... EX, EXPIRE after HSET); backfill with "
            "SCAN + EXPIRE in small batches, or UNLINK abandoned keys"
        ),
        unjudged=(
            "it judges the keyspace sampler's per-group estimates and their growth over hours, "
            "which analyze does not sample"
        ),
    ),
)
