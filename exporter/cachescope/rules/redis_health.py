"""Redis rules for one server's health: availability, memory, efficiency, clients, latency.

Every series is picked by `@{selector}` and matched on (job, instance), so the
rules work on /metrics (instance = target name) and /scrape alike.
"""

from __future__ import annotations

from cachescope.rules.model import Alert, Group, Recording, first_events

_UPTIME = "redis_uptime_in_seconds{@{selector}}"

RECORDING = Group(
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

AVAILABILITY = Group(
    "cachescope.redis.availability",
    (
        Alert(
            "RedisDown",
            "redis_up{@{selector}} == 0",
            "Redis is down or cannot be scraped.",
            "cachescope has not been able to read Redis {{ $labels.instance }} for more than"
            " @{for}: the server is down, or unreachable from the exporter"
            " (see cachescope_scrape_errors_total for the kind of error).",
        ),
        Alert(
            "RedisRestarted",
            "redis_uptime_in_seconds{@{selector}} < @{window|seconds}",
            "Redis restarted recently.",
            "Redis {{ $labels.instance }} started {{ $value | humanizeDuration }} ago;"
            " its cache is cold unless it loaded a dataset.",
        ),
        Alert(
            "RedisLoading",
            "redis_loading_dump_file{@{selector}} == 1",
            "Redis is loading its dataset and answers LOADING.",
            "Redis {{ $labels.instance }} has been loading its dataset for more than @{for};"
            " until it finishes, clients get LOADING errors.",
        ),
    ),
)

MEMORY = Group(
    "cachescope.redis.memory",
    (
        Alert(
            "RedisMemoryNearLimit",
            # Only where eviction cannot make room: under allkeys-* a full cache is the
            # normal state, and RedisEvictionsHigh / RedisRssNearSystemMemory speak for it.
            "instance:redis_memory_utilization:ratio{@{selector}} > @{threshold}\n"
            "and on (job, instance) (\n"
            '  redis_instance_info{@{selector}, maxmemory_policy="noeviction"}\n'
            "  or (\n"
            '    redis_instance_info{@{selector}, maxmemory_policy=~"volatile-.+"}\n'
            "    and on (job, instance)\n"
            "      sum without (db) (redis_db_keys_expiring{@{selector}})\n"
            "      < (1 - @{threshold}) * sum without (db) (redis_db_keys{@{selector}})\n"
            "  )\n"
            ")",
            "Redis is close to maxmemory and its policy cannot make room.",
            "Redis {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its"
            " maxmemory (threshold @{threshold|pct}) under noeviction, or under a volatile-*"
            " policy with too few keys with a TTL to evict: at the limit writes fail with OOM.",
        ),
        Alert(
            "RedisMaxmemoryUnset",
            "redis_memory_used_bytes{@{selector}}\n"
            "and on (job, instance) redis_memory_max_bytes{@{selector}} == 0\n"
            'and on (job, instance) redis_instance_info{@{selector}, role="master"}\n'
            "and on (job, instance) (\n"
            "  sum without (db) (redis_db_keys_expiring{@{selector}}) > 0\n"
            "  or instance:redis_expired_keys:rate5m{@{selector}} > 0\n"
            ")",
            "Redis is used as a cache but has no maxmemory limit.",
            "Redis {{ $labels.instance }} expires keys like a cache but has maxmemory 0;"
            " it uses {{ $value | humanize1024 }}B and can grow until the host runs out of"
            " memory.",
        ),
        Alert(
            "RedisOutOfMemoryErrors",
            first_events('redis_errors_total{@{selector}, err="OOM"}', _UPTIME),
            "Redis refuses commands with OOM errors.",
            "Redis {{ $labels.instance }} answered {{ $value | humanize }} commands with"
            " 'OOM command not allowed' in the last 5 minutes.",
        ),
        Alert(
            "RedisFragmentationHigh",
            "redis_mem_fragmentation_ratio{@{selector}} > @{threshold}\n"
            "and on (job, instance) redis_memory_used_bytes{@{selector}} > @{min_used_bytes}",
            "Redis memory is fragmented.",
            "Redis {{ $labels.instance }} has a fragmentation ratio (RSS / used) of"
            ' {{ $value | printf "%.2f" }} (threshold @{threshold}).',
        ),
        Alert(
            "RedisFragmentationRatioLow",
            "redis_mem_fragmentation_ratio{@{selector}} < @{threshold}\n"
            "and on (job, instance) redis_memory_used_bytes{@{selector}} > @{min_used_bytes}",
            "Redis memory is probably swapped out.",
            "Redis {{ $labels.instance }} has less RSS than used memory (ratio"
            ' {{ $value | printf "%.2f" }}): part of its dataset is in swap, and latency suffers.',
        ),
        Alert(
            "RedisRssFarAboveUsed",
            "redis_memory_used_rss_bytes{@{selector}} - redis_memory_used_bytes{@{selector}}"
            " > @{threshold}",
            "Redis holds much more memory than its data needs.",
            "Redis {{ $labels.instance }} holds {{ $value | humanize1024 }}B of RSS above its"
            " used memory (threshold @{threshold|bytes}).",
        ),
        Alert(
            "RedisRssNearSystemMemory",
            "redis_memory_used_rss_bytes{@{selector}}\n"
            "/ (redis_total_system_memory_bytes{@{selector}} > 0) > @{threshold}",
            "Redis' resident memory approaches the host's memory.",
            "Redis {{ $labels.instance }} holds {{ $value | humanizePercentage }} of the"
            " host's memory as RSS (threshold @{threshold|pct}): the kernel's OOM killer,"
            " not maxmemory, decides what happens next.",
        ),
    ),
)

EFFICIENCY = Group(
    "cachescope.redis.efficiency",
    (
        Alert(
            "RedisHitRatioLow",
            "instance:redis_keyspace_hit_ratio:ratio_rate5m{@{selector}} < @{threshold}\n"
            "and on (job, instance)\n"
            "  instance:redis_keyspace_hits:rate5m{@{selector}}"
            " + instance:redis_keyspace_misses:rate5m{@{selector}} > @{min_lookups}\n"
            "unless on (job, instance) redis_uptime_in_seconds{@{selector}}"
            " < @{warmup|seconds}",
            "Redis cache hit ratio is low.",
            "Redis {{ $labels.instance }} serves {{ $value | humanizePercentage }} of key"
            " lookups from cache (threshold @{threshold|pct}).",
        ),
        Alert(
            "RedisEvictionsHigh",
            "instance:redis_evicted_keys:rate5m{@{selector}} > @{threshold}\n"
            "and on (job, instance)"
            " instance:redis_keyspace_hit_ratio:ratio_rate5m{@{selector}} < @{max_hit_ratio}",
            "Redis evicts keys while its hit ratio is low.",
            "Redis {{ $labels.instance }} evicts {{ $value | humanize }} keys/s and its hit"
            " ratio is below @{max_hit_ratio|pct}: the cache is too small for its working set.",
        ),
        Alert(
            "RedisMissSpike",
            "instance:redis_keyspace_misses:rate5m{@{selector}}\n"
            "  > @{factor} * rate(redis_keyspace_misses_total{@{selector}}[1h] offset 5m)\n"
            "and instance:redis_keyspace_misses:rate5m{@{selector}} > @{min_rate}",
            "Redis cache misses jumped (stampede).",
            "Redis {{ $labels.instance }} misses {{ $value | humanize }} lookups/s, more than"
            " @{factor} times the hour before: the database behind it takes the load.",
        ),
        Alert(
            "RedisKeysWithoutTtl",
            "(\n"
            "  sum without (db) (redis_db_keys{@{selector}})\n"
            "  - sum without (db) (redis_db_keys_expiring{@{selector}})\n"
            ") / (sum without (db) (redis_db_keys{@{selector}}) > @{min_keys})"
            " > @{threshold}\n"
            "and on (job, instance) (\n"
            "  sum without (db) (redis_db_keys_expiring{@{selector}}) > 0\n"
            '  or redis_instance_info{@{selector}, maxmemory_policy!="noeviction"}\n'
            ")",
            "Many Redis cache keys have no TTL.",
            "{{ $value | humanizePercentage }} of the keys of Redis {{ $labels.instance }}"
            " have no expiry (threshold @{threshold|pct}).",
        ),
    ),
)

CLIENTS = Group(
    "cachescope.redis.clients",
    (
        Alert(
            "RedisConnectionsNearLimit",
            "redis_connected_clients{@{selector}}\n"
            "/ (redis_config_maxclients{@{selector}} > 0) > @{threshold}",
            "Redis client connections are close to maxclients.",
            "Redis {{ $labels.instance }} has {{ $value | humanizePercentage }} of maxclients"
            " connected (threshold @{threshold|pct}).",
        ),
        Alert(
            "RedisRejectedConnections",
            first_events("redis_rejected_connections_total{@{selector}}", _UPTIME),
            "Redis rejects connections at maxclients.",
            "Redis {{ $labels.instance }} rejected {{ $value | humanize }} connections in the"
            " last 5 minutes because maxclients was reached.",
        ),
        Alert(
            "RedisBlockedClientsHigh",
            "redis_blocked_clients{@{selector}} > @{threshold}",
            "Many Redis clients are blocked.",
            "Redis {{ $labels.instance }} has {{ $value | humanize }} clients in a blocking"
            " call (threshold @{threshold}).",
        ),
        Alert(
            "RedisConnectionChurnHigh",
            "rate(redis_connections_received_total{@{selector}}[5m]) > @{threshold}",
            "Redis clients open connections at a high rate.",
            "Redis {{ $labels.instance }} accepts {{ $value | humanize }} new connections/s"
            " (threshold @{threshold}): clients are probably not pooling connections.",
        ),
    ),
)

LATENCY = Group(
    "cachescope.redis.latency",
    (
        Alert(
            "RedisCommandLatencyHigh",
            "instance_cmd:redis_command_latency_seconds:avg_rate5m{@{selector}} > @{threshold}\n"
            "and on (job, instance, cmd)"
            " rate(redis_commands_total{@{selector}}[5m]) > @{min_calls}",
            "A Redis command is slow on average.",
            "{{ $labels.cmd }} on Redis {{ $labels.instance }} takes"
            " {{ $value | humanizeDuration }} per call on average (threshold"
            " @{threshold}s).",
        ),
        Alert(
            "RedisSlowlogGrowing",
            "increase(redis_slowlog_last_id{@{selector}}[10m]) > @{threshold}",
            "Redis logs slow commands.",
            "Redis {{ $labels.instance }} logged {{ $value | humanize }} slow commands in the"
            " last 10 minutes (threshold @{threshold}).",
        ),
        Alert(
            "RedisLatencySpike",
            "redis_latency_spike_duration_seconds{@{selector}} > @{threshold}\n"
            "and on (job, instance, event_name)"
            " time() - redis_latency_spike_last{@{selector}} < @{within|seconds}",
            "Redis' latency monitor recorded a spike.",
            "Redis {{ $labels.instance }} stalled for {{ $value | humanizeDuration }}"
            " ({{ $labels.event_name }}) in the last @{within}.",
        ),
        Alert(
            "RedisBusyScript",
            first_events('redis_errors_total{@{selector}, err="BUSY"}', _UPTIME),
            "A Redis script or function blocked the server.",
            "Redis {{ $labels.instance }} answered {{ $value | humanize }} commands with BUSY"
            " in the last 5 minutes: a script ran past busy-reply-threshold.",
        ),
    ),
)

GROUPS = (RECORDING, AVAILABILITY, MEMORY, EFFICIENCY, CLIENTS, LATENCY)
