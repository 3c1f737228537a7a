"""Workloads and triggers for the live scenario suite (tests/test_scenarios.py).

Healthy workloads run in background threads at a few hundred operations per second; each
trigger makes one kind of trouble happen once and returns how often it happened.
"""

from __future__ import annotations

import random
import socket
import subprocess
import threading
import time
from collections.abc import Callable

import redis
from pymemcache.client.base import Client as MemcacheClient
from redis.backoff import NoBackoff
from redis.retry import Retry
from servers import RedisServer, require_binary, wait_for
from topology_servers import Cluster

VALUE = b"v" * 1000
HOT_KEYS = 600  # the working set: fits easily in a 4 MB Redis or a 2 MB Memcached
COLD_KEYS = 1_000_000  # the long tail: read once in a while, missed, set, evicted later
HOT_SHARE = 0.92  # so the hit ratio sits near 0.9, well above the rules' 0.8
# A retry would repeat what a trigger must do once (a reload, a refused connection).
NO_RETRY = Retry(NoBackoff(), 0)


class Load:
    """Background threads, each running its step a few times a second until stopped."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []

    def add(self, step: Callable[[], object], pause: float = 0.1) -> None:
        def run() -> None:
            while not self.stopping.is_set():
                try:
                    step()
                except Exception:  # a restarting server: the next step reconnects
                    self.stopping.wait(0.5)
                self.stopping.wait(pause)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(10)


def pick_key(rng: random.Random) -> str:
    """A key of the hot working set most of the time, else one of the long tail."""
    if rng.random() < HOT_SHARE:
        return f"user:{rng.randrange(HOT_KEYS)}:profile"
    return f"item:{rng.randrange(COLD_KEYS)}:page"


def redis_cache_aside(client: redis.Redis, lookups: int = 20) -> Callable[[], None]:
    """Cache-aside reads: GET, and on a miss load 'from the database' and SET with EX."""
    rng = random.Random(client.connection_pool.connection_kwargs["port"])

    def step() -> None:
        for _ in range(lookups):
            key = pick_key(rng)
            if client.get(key) is None:
                client.set(key, VALUE, ex=3600)

    return step


def memcached_cache_aside(client: MemcacheClient, lookups: int = 20) -> Callable[[], None]:
    """The same cache-aside reads against Memcached."""
    rng = random.Random(7)

    def step() -> None:
        for _ in range(lookups):
            key = pick_key(rng)
            if client.get(key) is None:
                client.set(key, VALUE, expire=3600)

    return step


def fill_redis_cache(client: redis.Redis) -> None:
    """Fill with the long tail until Redis evicts, then load the hot set on top (newest)."""
    with client.pipeline(transaction=False) as pipe:
        for index in range(20_000):
            pipe.set(f"item:filler{index}:page", VALUE, ex=3600)
            if index % 200 == 199:
                pipe.execute()
                if client.info("stats")["evicted_keys"] > 0:
                    break
        # Redis' LRU clock ticks once a second: hot keys set in the same second as the filler
        # would look just as idle and be evicted with it.
        time.sleep(1.5)
        for index in range(HOT_KEYS):
            pipe.set(f"user:{index}:profile", VALUE, ex=3600)
        pipe.execute()
    assert client.info("stats")["evicted_keys"] > 0, "the LRU cache never filled up"


def fill_memcached(client: MemcacheClient) -> None:
    """Fill with the long tail until Memcached evicts, then load the hot set on top."""
    for index in range(20_000):
        client.set(f"item:filler{index}:page", VALUE, expire=3600)
        if index % 200 == 199 and int(client.stats()[b"evictions"]) > 0:
            break
    for index in range(HOT_KEYS):
        client.set(f"user:{index}:profile", VALUE, expire=3600)


def batch_job(client: redis.Redis) -> Callable[[], None]:
    """A nightly-style batch: a full SCAN pass reading each page with MGET, then a big MGET."""

    def step() -> None:
        cursor = 0
        while True:
            cursor, keys = client.scan(cursor, count=1000)
            if keys:
                client.mget(keys)
            if cursor == 0:
                break
        client.mget([f"batch:{index}" for index in range(5000)])

    return step


def load_batch_data(client: redis.Redis, keys: int = 20_000) -> None:
    with client.pipeline(transaction=False) as pipe:
        for index in range(keys):
            pipe.set(f"batch:{index}", b"b" * 100, ex=3600)
        pipe.execute()


def fill_until_oom(client: redis.Redis) -> int:
    """Write 10 kB values until the first OOM reply; return the number of failed writes (1)."""
    for index in range(10_000):
        try:
            client.set(f"fill:{index}", b"x" * 10_000)
        except redis.exceptions.OutOfMemoryError:
            return 1
    return 0


def busy_once(server: RedisServer) -> int:
    """Run a 700 ms Lua script; a second client gets one BUSY reply meanwhile."""
    script = (
        "local start = redis.call('TIME') "
        "repeat local now = redis.call('TIME') "
        "until (now[1] - start[1]) * 1000000 + (now[2] - start[2]) > 700000 return 1"
    )
    runner = threading.Thread(
        target=lambda: server.client(socket_timeout=10, retry=NO_RETRY).eval(script, 0),
        daemon=True,
    )
    runner.start()
    time.sleep(0.35)  # past the 100 ms busy-reply-threshold, well before the script ends
    busy = 0
    try:
        server.client(socket_timeout=5).get("anything")
    except redis.exceptions.ResponseError as exc:
        busy = int(str(exc).startswith("BUSY"))
    runner.join(10)
    return busy


def reject_connections(server: RedisServer, attempts: int) -> int:
    """Open `attempts` connections at once, return how many were refused at maxclients."""
    clients = [server.client(socket_timeout=2, retry=NO_RETRY) for _ in range(attempts)]
    rejected = 0
    for client in clients:
        try:
            client.ping()
        except redis.exceptions.ConnectionError as exc:
            rejected += int("max number of clients" in str(exc))
    for client in clients:
        client.close()
    return rejected


def crowd_memcached(port: int, connections: int) -> None:
    """Hold more connections than `-c` allows for a moment, so the listener is disabled."""
    socks = []
    for _ in range(connections):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=1))
        except OSError:
            break
    time.sleep(0.5)
    for sock in socks:
        sock.close()


def reload_slowly(server: RedisServer) -> threading.Thread:
    """DEBUG RELOAD in the background, the load slowed down so it lasts several seconds."""
    with server.client() as client:
        client.config_set("key-load-delay", 10_000)  # microseconds per key: a hidden config
    client = server.client(socket_timeout=120, retry=NO_RETRY)
    thread = threading.Thread(target=lambda: client.execute_command("DEBUG", "RELOAD"), daemon=True)
    thread.start()
    return thread


class PrimariesOnlyCluster(Cluster):
    """Three primaries and no replica: losing one primary leaves slots uncovered."""

    def __init__(self) -> None:
        self.nodes = [self.start_node() for _ in range(3)]
        subprocess.run(
            [
                require_binary("redis-cli"),
                "--cluster",
                "create",
                *(f"127.0.0.1:{node.port}" for node in self.nodes),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        wait_for(self.converged, timeout=30, what="cluster state ok on every node")


def misrouted_client(client: redis.Redis, happened: dict[str, int]) -> Callable[[], None]:
    """A plain (not cluster-aware) client reading keys of every slot from one cluster node."""
    happened.setdefault("moved_replies", 0)
    counter = iter(range(10**9))

    def step() -> None:
        for _ in range(10):
            try:
                client.get(f"user:{next(counter) % 1000}:profile")
            except redis.exceptions.MovedError:
                happened["moved_replies"] += 1
            except redis.exceptions.ResponseError:  # CLUSTERDOWN, once the cluster is broken
                pass

    return step
