"""Redis rules across servers: replication, persistence, Cluster and Sentinel."""

from __future__ import annotations

from cachescope.rules.model import Alert, Group

REPLICATION = Group(
    "cachescope.redis.replication",
    (
        Alert(
            "RedisReplicaMissing",
            "redis_connected_slaves{@{selector}} == 0\n"
            'and on (job, instance) redis_instance_info{@{selector}, role="master"}\n'
            "and on (job, instance)"
            " max_over_time(redis_connected_slaves{@{selector}}[@{lookback}]) > 0",
            "A Redis primary lost all its replicas.",
            "Primary {{ $labels.instance }} has no replica attached, although it had one in"
            " the last @{lookback}: a failure now loses data and has nothing to fail over to.",
        ),
        Alert(
            "RedisReplicaLinkDown",
            "redis_master_link_up{@{selector}} == 0",
            "A Redis replica lost its link to the primary.",
            "Replica {{ $labels.instance }} has had no link to its primary"
            " {{ $labels.master_host }}:{{ $labels.master_port }} for more than @{for};"
            " it serves stale data.",
        ),
        Alert(
            "RedisReplicaNotOnline",
            'redis_connected_slave_offset_bytes{@{selector}, slave_state!="online"}',
            "A Redis replica is stuck synchronizing.",
            "Replica {{ $labels.slave_ip }}:{{ $labels.slave_port }} of primary"
            " {{ $labels.instance }} has been in state {{ $labels.slave_state }} for more"
            " than @{for}.",
        ),
        Alert(
            "RedisReplicaLagging",
            "redis_connected_slave_lag_seconds{@{selector}} > @{threshold}",
            "A Redis replica lags behind its primary.",
            "Replica {{ $labels.slave_ip }}:{{ $labels.slave_port }} of primary"
            " {{ $labels.instance }} last acknowledged {{ $value | humanizeDuration }} ago"
            " (threshold @{threshold}s).",
        ),
        Alert(
            "RedisFullResyncs",
            "increase(redis_replica_resyncs_full{@{selector}}[1h]) >= @{threshold}",
            "Redis replicas keep doing full resyncs.",
            "Primary {{ $labels.instance }} sent {{ $value | humanize }} full resyncs in the"
            " last hour (threshold @{threshold}): each one forks and copies the whole dataset.",
        ),
    ),
)

PERSISTENCE = Group(
    "cachescope.redis.persistence",
    (
        Alert(
            "RedisRdbSaveFailed",
            "redis_rdb_last_bgsave_status{@{selector}} == 0",
            "The last Redis RDB save failed.",
            "The last background save of Redis {{ $labels.instance }} failed; with"
            " stop-writes-on-bgsave-error (the default) it refuses writes.",
        ),
        Alert(
            "RedisAofWriteFailed",
            "redis_aof_last_write_status{@{selector}} == 0",
            "The last Redis AOF write failed.",
            "Redis {{ $labels.instance }} could not write its append-only file; writes since"
            " are not durable and may be refused.",
        ),
        Alert(
            "RedisAofRewriteFailed",
            "redis_aof_last_bgrewrite_status{@{selector}} == 0",
            "The last Redis AOF rewrite failed.",
            "The last AOF rewrite of Redis {{ $labels.instance }} failed; the append-only"
            " file keeps growing.",
        ),
        Alert(
            "RedisRdbSaveTooOld",
            "time() - redis_rdb_last_save_timestamp_seconds{@{selector}}"
            " > @{threshold|seconds}\n"
            "and on (job, instance) redis_rdb_changes_since_last_save{@{selector}} > 0\n"
            "and on (job, instance) redis_rdb_saves_total{@{selector}} > 0",
            "Redis has not saved a snapshot for a long time.",
            "Redis {{ $labels.instance }} last saved {{ $value | humanizeDuration }} ago"
            " although it saves snapshots and has changes (threshold @{threshold}).",
        ),
    ),
)

CLUSTER = Group(
    "cachescope.redis.cluster",
    (
        Alert(
            "RedisClusterStateNotOk",
            "redis_cluster_state{@{selector}} == 0",
            "Redis Cluster is down (CLUSTERDOWN).",
            "Cluster node {{ $labels.instance }} has seen cluster_state fail for more than"
            " @{for}; it answers CLUSTERDOWN.",
        ),
        Alert(
            "RedisClusterSlotsUncovered",
            "redis_cluster_slots_assigned{@{selector}} < 16384",
            "Redis Cluster has slots no node serves.",
            "Cluster node {{ $labels.instance }} sees only {{ $value }} of 16384 slots assigned.",
        ),
        Alert(
            "RedisClusterSlotsFailing",
            "redis_cluster_slots_fail{@{selector}} > 0",
            "Redis Cluster slots are served by a failed node.",
            "Cluster node {{ $labels.instance }} sees {{ $value }} slots on nodes the"
            " cluster agrees have failed.",
        ),
        Alert(
            "RedisClusterSlotsPfail",
            "redis_cluster_slots_pfail{@{selector}} > 0",
            "Redis Cluster slots are served by a node that may be failing.",
            "Cluster node {{ $labels.instance }} sees {{ $value }} slots on nodes it cannot"
            " reach (PFAIL).",
        ),
        Alert(
            "RedisClusterNodeDisconnected",
            'redis_cluster_peers{@{selector}, link_state="disconnected"} > 0',
            "A Redis Cluster node lost its bus link to peers.",
            "Cluster node {{ $labels.instance }} has no bus link to {{ $value }} other nodes.",
        ),
        Alert(
            "RedisClusterNodeFailed",
            'redis_cluster_peers_flagged{@{selector}, flag="fail"} > 0',
            "Redis Cluster marked nodes as failed.",
            "Cluster node {{ $labels.instance }} sees {{ $value }} other nodes flagged fail.",
        ),
    ),
)

SENTINEL = Group(
    "cachescope.redis.sentinel",
    (
        Alert(
            "RedisSentinelMasterDown",
            "redis_sentinel_master_status{@{selector}} == 0",
            "A sentinel sees its master down.",
            "Sentinel {{ $labels.instance }} sees master {{ $labels.master_name }}"
            " ({{ $labels.master_address }}) as {{ $labels.master_status }}.",
        ),
        Alert(
            "RedisSentinelMasterOdown",
            "redis_sentinel_master_odown{@{selector}} == 1",
            "The sentinels agree a master is down.",
            "Sentinel {{ $labels.instance }} reports master {{ $labels.master_name }}"
            " ({{ $labels.master_address }}) objectively down for more than @{for}, and no"
            " failover has replaced it.",
        ),
        Alert(
            "RedisSentinelQuorumAtRisk",
            "redis_sentinel_master_ok_sentinels{@{selector}}\n"
            "< redis_sentinel_master_setting_ckquorum{@{selector}} + @{spare}",
            "Too few sentinels to survive losing another one.",
            "Only {{ $value }} sentinels watching {{ $labels.master_name }} are healthy"
            " (seen by {{ $labels.instance }}); fewer than quorum + @{spare}.",
        ),
        Alert(
            "RedisSentinelQuorumLost",
            "redis_sentinel_master_ckquorum_status{@{selector}} == 0",
            "Sentinels cannot fail over a master.",
            "SENTINEL CKQUORUM {{ $labels.master_name }} fails on {{ $labels.instance }}:"
            " {{ $labels.message }}",
        ),
        Alert(
            "RedisSentinelTilt",
            "redis_sentinel_tilt{@{selector}} == 1",
            "A sentinel is in TILT mode.",
            "Sentinel {{ $labels.instance }} has been in TILT mode for more than @{for}; it"
            " does not act on failures while its clock or scheduling misbehaves.",
        ),
        Alert(
            "RedisSentinelFailover",
            "max without (master_address) (redis_sentinel_master_config_epoch{@{selector}})\n"
            "> max without (master_address)"
            " (redis_sentinel_master_config_epoch{@{selector}} offset @{window})",
            "Sentinel failed over a master.",
            "Sentinel {{ $labels.instance }} saw master {{ $labels.master_name }} fail over in"
            " the last @{window} (config epoch now {{ $value }}).",
        ),
    ),
)

GROUPS = (REPLICATION, PERSISTENCE, CLUSTER, SENTINEL)
