"""Many small redis-server and memcached processes on loopback, with realistic contents.

Each Redis keeps a few hundred keys in four databases, has served a burst of mixed
commands (so INFO's commandstats, errorstats and keyspace sections are populated, as on
a real cache), and every tenth one is a replica of its neighbour.
"""

from __future__ import annotations

import os
import random
import resource
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import hiredis

from benchmarks.processes import Processes, free_ports, raise_fd_limit, require_binary, wait_until

# A tiny redis-server 7 uses about 3.5 MB of private memory (ps shows 12 MB of RSS, most
# of it the shared binary); the rest is headroom for socket buffers and backlogs.
MB_PER_REDIS = 8
THREADS_PER_REDIS = 6  # main, three bio threads, jemalloc's background thread, spare
REPLICA_EVERY = 10  # server i is a replica of server i-1 when i % 10 == 9
DATABASES = 4
START_TIMEOUT = 120.0


@dataclass
class Fleet:
    redis_ports: list[int]
    memcached_ports: list[int]
    replicas: int
    redis_pids: dict[int, int] = field(default_factory=dict)  # port -> pid, to pause servers


def capacity(wanted: int) -> tuple[int, str]:
    """How many Redis servers this machine can hold (at most `wanted`), and what limits it."""
    limits = {"requested": wanted}
    limits["memory"] = _mem_available_mb() // 2 // MB_PER_REDIS
    # The exporter keeps one socket per target; leave room for everything else.
    limits["open files"] = (raise_fd_limit() - 256) // 2
    with open("/proc/sys/kernel/pid_max", encoding="ascii") as handle:
        pid_max = int(handle.read())
    limits["pids"] = (pid_max - len(os.listdir("/proc")) * 4 - 2000) // THREADS_PER_REDIS
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    if nproc != resource.RLIM_INFINITY:
        limits["process limit"] = (nproc - 2000) // THREADS_PER_REDIS
    reason = min(limits, key=lambda key: limits[key])
    return max(min(limits.values()), 0), reason


def _mem_available_mb() -> int:
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


def start_fleet(processes: Processes, redis_count: int, memcached_count: int) -> Fleet:
    """The Memcached servers and the first `redis_count` Redis servers."""
    memcached_bin = require_binary("memcached")
    fleet = Fleet([], free_ports(memcached_count), 0)
    for port in fleet.memcached_ports:
        args = [memcached_bin, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16", "-t", "1"]
        if os.geteuid() == 0:
            args += ["-u", "root"]
        processes.start(args, f"memcached-{port}")
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(_wait_memcached, fleet.memcached_ports))
        list(pool.map(_populate_memcached, fleet.memcached_ports))
    grow_fleet(processes, fleet, redis_count)
    return fleet


def grow_fleet(processes: Processes, fleet: Fleet, redis_count: int) -> None:
    """Start Redis servers up to `redis_count` at once, wait for all, then fill them in parallel.

    The fleet grows with each size measured, so that small sizes are not measured next to
    hundreds of idle servers they do not use.
    """
    redis_bin = require_binary("redis-server")
    first = len(fleet.redis_ports)
    if redis_count <= first:
        return
    fleet.redis_ports += free_ports(redis_count - first)
    new = list(enumerate(fleet.redis_ports))[first:]
    procs: dict[int, subprocess.Popen[bytes]] = {}
    for i, port in new:
        # --hz 1: a thousand idle servers' timers at the default 10 Hz would take a
        # large share of two cores, noise that production exporters do not see.
        args = [
            redis_bin,
            "--bind", "127.0.0.1", "--port", str(port), "--hz", "1",
            "--save", "", "--appendonly", "no", "--dir", str(processes.workdir),
            "--dbfilename", f"dump-{port}.rdb", "--daemonize", "no", "--loglevel", "warning",
            "--maxmemory", "16mb", "--maxmemory-policy", "allkeys-lru",
            "--repl-diskless-sync-delay", "0", "--repl-backlog-size", "64kb",
            "--slowlog-log-slower-than", "0", "--slowlog-max-len", "16",
            "--latency-monitor-threshold", "1",
        ]  # fmt: skip
        if i % REPLICA_EVERY == REPLICA_EVERY - 1:
            args += ["--replicaof", "127.0.0.1", str(fleet.redis_ports[i - 1])]
            fleet.replicas += 1
        procs[port] = processes.start(args, f"redis-{port}")
        fleet.redis_pids[port] = procs[port].pid
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(lambda item: _wait_redis(processes, procs[item[1]], item[1]), new))
        list(pool.map(_populate_redis, new))
        list(pool.map(_wait_replica, [p for i, p in new if i % REPLICA_EVERY == REPLICA_EVERY - 1]))


def _wait_redis(processes: Processes, proc: subprocess.Popen[bytes], port: int) -> None:
    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(
                f"redis-server on port {port} exited: {processes.log(f'redis-{port}')}"
            )
        return command(port, ["PING"])[0] == b"PONG"

    try:
        wait_until(up, START_TIMEOUT, f"redis {port}")
    except TimeoutError as exc:
        raise RuntimeError(f"{exc}\n{processes.log(f'redis-{port}')}") from None


def _wait_memcached(port: int) -> None:
    def up() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"version\r\n")
            return sock.recv(100).startswith(b"VERSION")

    wait_until(up, START_TIMEOUT, f"memcached {port}")


def _wait_replica(port: int) -> None:
    def synced() -> bool:
        info = command(port, ["INFO", "replication"])[0]
        if not isinstance(info, bytes):
            return False
        return b"master_link_status:up" in info and b"master_sync_in_progress:0" in info

    wait_until(synced, 60.0, f"replica {port} to sync")


def encode(args: list[str]) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = arg.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def command(port: int, *commands: list[str], timeout: float = 30.0) -> list[object]:
    """Send commands in one pipeline on a fresh connection; replies in order (errors as values)."""
    reader = hiredis.Reader()
    replies: list[object] = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"".join(encode(c) for c in commands))
        while len(replies) < len(commands):
            data = sock.recv(1 << 16)
            if not data:
                raise ConnectionError(f"redis {port} closed the connection")
            reader.feed(data)
            while (reply := reader.gets()) is not False:
                replies.append(reply)
    return replies


def workload(index: int, replica: bool) -> list[list[str]]:
    """Data in several databases, then a burst of mixed commands, some failing."""
    rng = random.Random(index)
    commands: list[list[str]] = []
    for db in range(DATABASES):
        if replica:
            break
        commands.append(["SELECT", str(db)])
        for k in range(rng.randint(20, 200 // (db + 1))):
            key = f"db{db}:key:{k}"
            kind = k % 5
            if kind == 0:
                commands.append(["SET", key, "x" * rng.randint(1, 200), "EX", "3600"])
            elif kind == 1:
                commands.append(["HSET", key, "a", "1", "b", "2", "c", str(k)])
            elif kind == 2:
                commands.append(["RPUSH", key, *[str(v) for v in range(rng.randint(1, 20))]])
            elif kind == 3:
                commands.append(["SADD", key, *[f"m{v}" for v in range(rng.randint(1, 10))]])
            else:
                commands.append(["ZADD", key, "1", "a", "2", "b", "3", "c"])
    commands.append(["SELECT", "0"])
    reads = [
        lambda k: ["GET", f"db0:key:{k}"],
        lambda k: ["EXISTS", f"db0:key:{k}"],
        lambda k: ["HGETALL", f"db0:key:{k}"],
        lambda k: ["LRANGE", f"db0:key:{k}", "0", "5"],
        lambda k: ["ZRANGE", f"db0:key:{k}", "0", "-1"],
        lambda k: ["TTL", f"db0:key:{k}"],
        lambda k: ["MGET", f"db0:key:{k}", f"db0:key:{k + 1}", "missing"],
        lambda k: ["SCARD", f"db0:key:{k}"],
    ]
    writes = [
        lambda k: ["INCR", f"counter:{k % 7}"],
        lambda k: ["EXPIRE", f"db0:key:{k}", "7200"],
        lambda k: ["DEL", f"db0:gone:{k}"],
        lambda k: ["LPUSH", "queue", str(k)],
        lambda k: ["HINCRBY", "stats", f"f{k % 5}", "1"],
    ]
    pool = reads if replica else reads + writes
    commands += [rng.choice(pool)(rng.randint(0, 60)) for _ in range(rng.randint(150, 400))]
    # Wrong-type and unknown commands fill errorstats, as clients' bugs do in production.
    commands += [["INCR", "db0:key:1"], ["NOSUCHCOMMAND"], ["DBSIZE"], ["PING"]]
    return commands


def _populate_redis(item: tuple[int, int]) -> None:
    index, port = item
    command(port, *workload(index, replica=index % REPLICA_EVERY == REPLICA_EVERY - 1))


def _populate_memcached(port: int) -> None:
    rng = random.Random(port)
    lines = []
    for k in range(200):
        value = b"v" * rng.randint(1, 500)
        lines.append(b"set key:%d 0 3600 %d noreply\r\n%s\r\n" % (k, len(value), value))
    lines += [b"get key:%d key:missing:%d\r\n" % (k, k) for k in range(0, 300, 3)]
    lines += [b"incr counter 1\r\n", b"delete key:1 noreply\r\n", b"version\r\n"]
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"".join(lines))
        received = b""
        while not (b"VERSION " in received and received.endswith(b"\r\n")):
            data = sock.recv(1 << 16)
            if not data:
                raise ConnectionError(f"memcached {port} closed the connection")
            received += data
