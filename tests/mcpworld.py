"""The servers `tests/test_mcp.py` configures one `cachescope mcp` with, started once.

A healthy LRU cache filled past maxmemory, a noeviction cache after an OOM, a down
target, password-protected Redis and Memcached, a Redis that echoes the password in an
error, a primary with a replica, a cluster, a sentinel set, a sampled keyspace and a Redis
that never answers; an allow pattern admits one more Redis.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from hostile import HostileServer, never_answers
from mcpstdio import StdioSession
from servers import MemcachedServer, RedisServer, free_port, wait_for_link_up
from topology_servers import Cluster, SentinelSet

SECRET = "mcp-pa55-7f3a9c"
# Stored in a sampled key: the keyspace report may name the key, never show this.
VALUE = "v4lue-never-shown-q8z"
OVERRIDDEN = 0.77  # RedisMemoryNearLimit's warning threshold in the override file
HOSTILE_TIMEOUT = 1.0


@dataclass
class World:
    """The servers the module's MCP server is configured with, and its session."""

    session: StdioSession
    servers: dict[str, RedisServer]
    memcached: MemcachedServer
    cluster: Cluster
    sentinels: SentinelSet
    allowed: RedisServer
    hostile: HostileServer
    down_port: int


def fill_lru(server: RedisServer) -> None:
    """Write twice maxmemory into an allkeys-lru cache, so that it evicts."""
    client = server.client()
    pipe = client.pipeline(transaction=False)
    for i in range(4000):
        pipe.set(f"page:{i}", "x" * 1000)
    pipe.execute()
    assert int(client.info("stats")["evicted_keys"]) > 0


def fill_until_oom(server: RedisServer) -> None:
    """Write into a noeviction cache until Redis refuses a write with OOM."""
    client = server.client()
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        for i in range(10_000):
            client.set(f"order:{i}", "x" * 1000)


def fill_keyspace(server: RedisServer) -> None:
    client = server.client()
    pipe = client.pipeline(transaction=False)
    for i in range(300):
        pipe.set(f"user:{i}:token", VALUE)
        pipe.set(f"sess:{i}", "s", ex=3600)
    pipe.set("blob:big", VALUE * 5000)
    pipe.execute()


def config_text(world: dict[str, object], servers: dict[str, RedisServer]) -> str:
    """The module's config: every target by a name an assistant would use."""
    lines = ["targets:"]
    for name, server in servers.items():
        uri = server.uri
        if name == "echoes":
            uri = uri.replace("redis://", f"redis://:{SECRET}@")
        if server.password:
            uri = uri.replace("redis://", f"redis://:{server.password}@")
        lines += [f"  - uri: {uri}", f"    name: {name}"]
        if name == "sampled":
            lines += ["    keyspace: {interval: 1h, keys_per_cycle: 10000, top: 3}"]
    lines += [
        f"  - uri: redis://127.0.0.1:{world['down_port']}",
        "    name: down",
        f"  - uri: redis://:{SECRET}@127.0.0.1:{world['secret_down_port']}",
        "    name: secret-down",
        f"  - uri: {world['memcached']}",
        "    name: memcached",
        f"  - uri: {str(world['locked']).replace('//', f'//ops:{SECRET}@')}",
        "    name: memcached-auth",
        f"  - uri: {world['cluster']}",
        "    name: cluster",
        f"  - uri: {world['sentinel']}",
        "    name: sentinel",
        f"  - uri: redis://{world['hostile']}",
        "    name: hostile",
        f"    timeout: {HOSTILE_TIMEOUT:g}s",
        "scrape:",
        "  allow:",
        f"    - pattern: redis://127.0.0.1:{world['allowed']}",
    ]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def started(workdir: Path) -> Iterator[World]:
    """Every server, the config naming them, and `cachescope mcp` over stdio; then stopped."""
    redises: list[RedisServer] = []

    def redis_server(*args: str, **kwargs: object) -> RedisServer:
        server = RedisServer(*args, **kwargs)  # type: ignore[arg-type]
        redises.append(server)
        return server

    memcached = MemcachedServer()
    locked = MemcachedServer(users={"ops": SECRET})
    cluster = sentinels = hostile = None
    session = None
    try:
        small = ("--maxmemory", "2mb")
        primary = redis_server()
        servers = {
            "lru": redis_server(*small, "--maxmemory-policy", "allkeys-lru"),
            "oom": redis_server(*small, "--maxmemory-policy", "noeviction"),
            "secret": redis_server(password=SECRET),
            # AUTH renamed away: Redis answers the AUTH the exporter sends with
            # "unknown command 'AUTH', with args beginning with: '<the password>'".
            "echoes": redis_server("--rename-command", "AUTH", ""),
            "primary": primary,
            "replica": redis_server("--replicaof", "127.0.0.1", str(primary.port)),
            "sampled": redis_server(),
        }
        allowed = redis_server()
        fill_lru(servers["lru"])
        fill_until_oom(servers["oom"])
        fill_keyspace(servers["sampled"])
        wait_for_link_up(servers["replica"])
        cluster, sentinels = Cluster(), SentinelSet()
        hostile = HostileServer(never_answers)
        names = {
            "down_port": free_port(),
            "secret_down_port": free_port(),
            "memcached": memcached.uri,
            "locked": locked.uri,
            "cluster": cluster.nodes[0].uri,
            "sentinel": sentinels.sentinels[0].uri,
            "hostile": hostile.address,
            "allowed": allowed.port,
        }
        config = workdir / "cachescope.yml"
        config.write_text(config_text(names, servers))
        overrides = workdir / "thresholds.yml"
        overrides.write_text(
            f"alerts:\n  RedisMemoryNearLimit:\n    warning:\n      threshold: {OVERRIDDEN}\n"
        )
        session = StdioSession(
            "--config.file", str(config), "--thresholds", str(overrides), workdir=workdir
        )
        yield World(
            session=session,
            servers=servers,
            memcached=memcached,
            cluster=cluster,
            sentinels=sentinels,
            allowed=allowed,
            hostile=hostile,
            down_port=int(names["down_port"]),  # type: ignore[call-overload]
        )
    finally:
        if session is not None:
            session.close()
        for thing in (hostile, cluster, sentinels, memcached, locked, *redises):
            if thing is not None:
                thing.stop()
