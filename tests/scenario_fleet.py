"""The servers of the live scenario suite, each a target of one cachescope with its own name."""

from __future__ import annotations

import threading
from pathlib import Path

import yaml
from pymemcache.client.base import Client as MemcacheClient
from scenarios import (
    Load,
    PrimariesOnlyCluster,
    batch_job,
    busy_once,
    crowd_memcached,
    fill_memcached,
    fill_redis_cache,
    fill_until_oom,
    load_batch_data,
    memcached_cache_aside,
    misrouted_client,
    redis_cache_aside,
    reject_connections,
    reload_slowly,
)
from servers import MemcachedServer, Process, RedisServer, wait_for_link_up
from topology_servers import SentinelSet

LRU = ("--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")
VOLATILE = ("--maxmemory", "4mb", "--maxmemory-policy", "volatile-lru")
ROOMY = ("--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru")
MAXCLIENTS = 8  # the exporter holds one of them
MEMCACHED_MAXCONNS = 32  # memcached needs a few descriptors for itself below -c


def address(server: RedisServer) -> tuple[str, str]:
    return ("127.0.0.1", str(server.port))


class Fleet:
    """Every scenario's servers, started side by side; `redis`/`memcached` by target name."""

    def __init__(self) -> None:
        self.stoppable: list[Process] = []
        self.redis: dict[str, RedisServer] = {}
        self.memcached: dict[str, MemcachedServer] = {}
        self.happened: dict[str, int] = {}
        try:
            self._start_healthy()
            self._start_broken()
        except BaseException:
            self.stop()
            raise

    def _add(self, name: str, *args: str) -> RedisServer:
        server = RedisServer(*args)
        self.stoppable.append(server)
        self.redis[name] = server
        return server

    def _start_healthy(self) -> None:
        fill_redis_cache(self._add("lru-cache", *LRU).client())
        primary = self._add("volatile-cache", *VOLATILE, "--repl-diskless-sync-delay", "0")
        fill_redis_cache(primary.client())
        replica = self._add(
            "volatile-replica", *VOLATILE, "--replicaof", "127.0.0.1", str(primary.port)
        )
        wait_for_link_up(replica)
        self._add("idle")
        self._add("warming", *ROOMY)
        load_batch_data(self._add("batch", *ROOMY).client())
        full = MemcachedServer("-m", "2")
        self.stoppable.append(full)
        self.memcached["memcached-full"] = full
        fill_memcached(MemcacheClient(("127.0.0.1", full.port), timeout=2))
        self.quiet_cluster = PrimariesOnlyCluster()
        for index, node in enumerate(self.quiet_cluster.nodes):
            self.redis[f"cluster-{index}"] = node
        self.sentinels = SentinelSet()
        self.stoppable.extend(self.sentinels.sentinels)
        self.stoppable.extend(self.sentinels.servers)
        self.redis["sentinel-primary"] = self.sentinels.primary
        for index, server in enumerate(self.sentinels.replicas):
            self.redis[f"sentinel-replica-{index}"] = server
        self.stoppable.extend(self.quiet_cluster.nodes)

    def _start_broken(self) -> None:
        self._add("oom", "--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
        self._add("busy", "--busy-reply-threshold", "100")
        self.lost_primary = self._add("lost-primary", "--repl-diskless-sync-delay", "0")
        replica = self._add(
            "replica-link-broken", "--replicaof", "127.0.0.1", str(self.lost_primary.port)
        )
        wait_for_link_up(replica)
        del self.redis["lost-primary"]  # not a target: its replica is the scenario
        self._add("maxclients", "--maxclients", str(MAXCLIENTS))
        loading = self._add(
            "loading",
            "--enable-debug-command", "local",
            # Let clients in every ~1 kB of the dump while loading, as Redis' own tests do.
            "--loading-process-events-interval-bytes", "1024",
        )  # fmt: skip
        with loading.client() as client, client.pipeline(transaction=False) as pipe:
            # 2,000 keys at 10 ms each (reload_slowly): about 20 s of loading, well past the
            # 5s `for` even when a busy machine delays a scrape or two.
            for index in range(2000):
                pipe.set(f"report:{index}", b"r" * 2000)
            pipe.execute()
        limited = MemcachedServer(
            "-c", str(MEMCACHED_MAXCONNS), "-t", "1", "-o", "no_maxconns_fast"
        )
        self.stoppable.append(limited)
        self.memcached["memcached-listener"] = limited
        self.down_cluster = PrimariesOnlyCluster()
        self.stoppable.extend(self.down_cluster.nodes)
        for index, node in enumerate(self.down_cluster.nodes):
            self.redis[f"cluster-down-{index}"] = node

    def sentinel_targets(self) -> dict[str, str]:
        return {f"sentinel-{i}": s.uri for i, s in enumerate(self.sentinels.sentinels)}

    def write_config(self, path: Path) -> Path:
        """The exporter's config: every target, named as the scenario it belongs to."""
        uris = {name: server.uri for name, server in self.redis.items()}
        uris.update({name: server.uri for name, server in self.memcached.items()})
        uris.update(self.sentinel_targets())
        targets = [{"uri": uri, "name": name} for name, uri in sorted(uris.items())]
        path.write_text(yaml.safe_dump({"defaults": {"timeout": "2s"}, "targets": targets}))
        return path

    def names(self) -> set[str]:
        return set(self.redis) | set(self.memcached) | set(self.sentinel_targets())

    def start_load(self, load: Load) -> None:
        """The healthy workloads, in background threads."""
        for name in ("lru-cache", "volatile-cache", "warming"):
            load.add(redis_cache_aside(self.redis[name].client()))
        memcached = MemcacheClient(("127.0.0.1", self.memcached["memcached-full"].port), timeout=2)
        load.add(memcached_cache_aside(memcached))
        load.add(batch_job(self.redis["batch"].client()), pause=10)
        # Trouble from the start: the cluster it misroutes to is broken later, which only
        # turns its MOVED replies into CLUSTERDOWN ones.
        load.add(misrouted_client(self.redis["cluster-down-1"].client(), self.happened))

    def break_things(self) -> threading.Thread:
        """Each broken scenario's trouble, once; returns the reload still running."""
        self.happened["oom_replies"] = fill_until_oom(self.redis["oom"].client())
        self.happened["busy_replies"] = busy_once(self.redis["busy"])
        self.happened["rejected"] = reject_connections(self.redis["maxclients"], MAXCLIENTS + 4)
        crowd_memcached(self.memcached["memcached-listener"].port, MEMCACHED_MAXCONNS + 8)
        self.lost_primary.stop()
        self.down_cluster.nodes[0].stop()
        return reload_slowly(self.redis["loading"])

    def restart_warming(self) -> None:
        """Restart the warming instance: empty again, counters from zero."""
        self.redis["warming"].restart()

    def stop(self) -> None:
        for process in self.stoppable:
            process.stop()
