"""What to do about each alert, in one line, from its section of docs/runbooks.md.

Keyed by alert name: (category, action). The full reasoning stays in the runbook,
whose section has the alert's name.
"""

from __future__ import annotations

ACTIONS: dict[str, tuple[str, str]] = {
    "RedisDown": (
        "availability",
        "check that the server runs and that the address and credentials are right; "
        "restart it and read its log for why it stopped",
    ),
    "RedisRestarted": (
        "availability",
        "if nobody planned the restart, find why (OOM kill, crash) in the server and kernel "
        "logs; expect misses while the cache warms up",
    ),
    "RedisLoading": (
        "availability",
        "wait for loading to finish; if it is slow check disk throughput, and consider no "
        'persistence (save "", appendonly no) for a cache that need not survive restarts',
    ),
    "RedisMemoryNearLimit": (
        "memory",
        "writes will fail with OOM: for a cache set maxmemory-policy allkeys-lru or "
        "allkeys-lfu; under volatile-* set TTLs on keys that may go; else raise maxmemory "
        "within the host's RAM or delete what is not needed",
    ),
    "RedisRssNearSystemMemory": (
        "memory",
        "lower maxmemory so data plus buffers fit the host, cap client output buffers, "
        "and run MEMORY PURGE or activedefrag if fragmentation is the cause",
    ),
    "RedisMaxmemoryUnset": (
        "memory",
        "set maxmemory below the host's memory and an eviction policy "
        "(CONFIG SET maxmemory 4gb; CONFIG SET maxmemory-policy allkeys-lru; CONFIG REWRITE)",
    ),
    "RedisOutOfMemoryErrors": (
        "memory",
        "make room now (raise maxmemory, UNLINK stale keys), then fix the cause: an eviction "
        "policy for a cache, TTLs for a volatile-* policy, a stuck consumer for a queue",
    ),
    "RedisFragmentationHigh": (
        "memory",
        "enable activedefrag (CONFIG SET activedefrag yes); a restart or failover to a fresh "
        "replica resets fragmentation at once",
    ),
    "RedisFragmentationRatioLow": (
        "memory",
        "the server swaps: lower maxmemory or free host memory, set vm.swappiness low and "
        "vm.overcommit_memory=1",
    ),
    "RedisRssFarAboveUsed": (
        "memory",
        "run MEMORY PURGE, enable activedefrag, and size the host for RSS, not used memory",
    ),
    "RedisHitRatioLow": (
        "efficiency",
        "with evictions, raise maxmemory or use allkeys-lfu; with expiries, lengthen TTLs; "
        "otherwise look for reads of keys that are never written",
    ),
    "RedisEvictionsHigh": (
        "efficiency",
        "the working set does not fit: raise maxmemory or shard, try allkeys-lfu, "
        "and cut value sizes",
    ),
    "RedisMissSpike": (
        "efficiency",
        "protect the database, then add jitter to TTLs, refresh hot keys early and let one "
        "caller rebuild a key (SET NX EX lock)",
    ),
    "RedisKeysWithoutTtl": (
        "keys",
        "set TTLs on cache keys (SET key value EX 3600, EXPIRE after HSET); backfill existing "
        "ones with SCAN + EXPIRE",
    ),
    "RedisConnectionsNearLimit": (
        "connections",
        "find the client that holds them (CLIENT LIST), fix pool sizes or leaks, drop idle "
        "ones (timeout 300); raise maxclients only if the fd limit allows",
    ),
    "RedisRejectedConnections": (
        "connections",
        "kill idle clients (CONFIG SET timeout 60), fix pool sizes or leaks, "
        "raise maxclients if justified",
    ),
    "RedisBlockedClientsHigh": (
        "connections",
        "size queue workers to the queue; check WAIT against replication; fix clients that "
        "time out a blocking call and reconnect without closing",
    ),
    "RedisConnectionChurnHigh": (
        "connections",
        "use connection pooling or persistent connections in the clients; put a proxy in "
        "front of short-lived clients",
    ),
    "RedisCommandLatencyHigh": (
        "latency",
        "page through big collections (HSCAN, SSCAN, ZSCAN, bounded ranges), split big keys, "
        "use UNLINK instead of DEL, never KEYS",
    ),
    "RedisSlowlogGrowing": (
        "latency",
        "find the command and key in SLOWLOG GET 20 and page through big collections "
        "instead of reading them whole",
    ),
    "RedisLatencySpike": (
        "latency",
        "see LATENCY DOCTOR: fork -> disable transparent huge pages or save on a replica; "
        "aof -> appendfsync everysec; expire-cycle -> add TTL jitter",
    ),
    "RedisBusyScript": (
        "latency",
        "SCRIPT KILL a stuck read-only script, then bound the script's loops and batch its work",
    ),
    "RedisReplicaLinkDown": (
        "replication",
        "check the primary is up; fix connectivity or masterauth; if the link drops during "
        "sync, raise repl-timeout or the replica output buffer limit",
    ),
    "RedisReplicaNotOnline": (
        "replication",
        "raise client-output-buffer-limit replica and repl-backlog-size; use "
        "repl-diskless-sync on slow disks",
    ),
    "RedisReplicaLagging": (
        "replication",
        "check the replica host (CPU, disk, swap) and the network; relax its persistence "
        "or move reads elsewhere",
    ),
    "RedisFullResyncs": (
        "replication",
        "raise repl-backlog-size so brief disconnects resync partially, and fix the reason "
        "for disconnects",
    ),
    "RedisRdbSaveFailed": (
        "persistence",
        "fix disk space or permissions, or fork memory (vm.overcommit_memory=1); then BGSAVE; "
        'for a cache that needs no snapshot, save ""',
    ),
    "RedisAofWriteFailed": (
        "persistence",
        "free disk space or fix the disk, then check aof_last_write_status:ok",
    ),
    "RedisAofRewriteFailed": (
        "persistence",
        "fix disk space or fork memory, then BGREWRITEAOF",
    ),
    "RedisRdbSaveTooOld": (
        "persistence",
        "restore the save rules (e.g. save 3600 1 300 100 60 10000) or BGSAVE from cron",
    ),
    "RedisClusterStateNotOk": (
        "cluster",
        "restore the failed primaries or promote a replica (CLUSTER FAILOVER FORCE); "
        "give every primary a replica",
    ),
    "RedisClusterSlotsUncovered": (
        "cluster",
        "redis-cli --cluster fix, and finish any interrupted resharding",
    ),
    "RedisClusterSlotsFailing": (
        "cluster",
        "restart the failed node or promote a replica by hand; add replicas to shards without",
    ),
    "RedisClusterSlotsPfail": (
        "cluster",
        "check the suspected node and the cluster bus port (port + 10000) both ways",
    ),
    "RedisClusterNodeDisconnected": (
        "cluster",
        "restore connectivity on the cluster bus port; CLUSTER FORGET nodes gone for good",
    ),
    "RedisClusterNodeFailed": (
        "cluster",
        "restart or replace the failed node and let it rejoin as a replica",
    ),
    "RedisSentinelMasterDown": (
        "sentinel",
        "if only this sentinel sees it, check its network; otherwise follow the failover",
    ),
    "RedisSentinelMasterOdown": (
        "sentinel",
        "a failover needs a sentinel majority and a healthy replica: fix whichever is missing",
    ),
    "RedisSentinelQuorumAtRisk": (
        "sentinel",
        "restart missing sentinels; run at least three on independent hosts",
    ),
    "RedisSentinelQuorumLost": (
        "sentinel",
        "bring sentinels back until SENTINEL CKQUORUM says OK; check port 26379 between them",
    ),
    "RedisSentinelTilt": (
        "sentinel",
        "find what stalls the host (CPU starvation, VM pauses, clock steps)",
    ),
    "MemcachedDown": (
        "availability",
        "restart memcached and check why it stopped; expect a miss wave on the database",
    ),
    "MemcachedHitRatioLow": (
        "efficiency",
        "with evictions give it more memory (-m) or servers; with get_expired lengthen TTLs; "
        "get_flushed means someone runs flush_all",
    ),
    "MemcachedEvictionsHigh": (
        "efficiency",
        "raise -m or add servers; enable slab rebalancing (-o slab_reassign,slab_automove=1)",
    ),
    "MemcachedItemsEvictedEarly": (
        "efficiency",
        "give it more memory (-m) or servers, let the slab automover rebalance classes, "
        "or store smaller values",
    ),
    "MemcachedConnectionsNearLimit": (
        "connections",
        "fix clients that open too many or leak connections; raise -c and the fd limit "
        "if the load is legitimate",
    ),
    "MemcachedListenerDisabled": (
        "connections",
        "raise -c or cut client connections now",
    ),
    "MemcachedConnectionsRejected": (
        "connections",
        "raise -c or cut client connections; fix clients that leak connections",
    ),
    "MemcachedSlabOutOfMemory": (
        "memory",
        "enable slab_reassign and slab_automove, give the server more memory, and check "
        "values near the item size limit",
    ),
    "CachescopeScrapeSlow": (
        "latency",
        "the server answers slowly: check its latency (long commands, swap) and the network",
    ),
}
