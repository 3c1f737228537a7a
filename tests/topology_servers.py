"""A real 6-node Redis Cluster and a Sentinel-managed set, on free loopback ports."""

from __future__ import annotations

import socket
import subprocess
import tempfile
from pathlib import Path

from servers import Process, RedisServer, free_port, require_binary, wait_for

# Short timeouts so failovers happen in seconds, not the production default of minutes.
NODE_TIMEOUT_MS = "1000"


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    for _ in range(100):
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class Cluster:
    """Three primaries with one replica each (`replicas` per primary), made with
    `redis-cli --cluster create`."""

    def __init__(self, size: int = 6, replicas: int = 1) -> None:
        self.nodes = [self.start_node() for _ in range(size)]
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run(
            [
                require_binary("redis-cli"),
                "--cluster",
                "create",
                *addresses,
                "--cluster-replicas",
                str(replicas),
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        wait_for(self.converged, timeout=30, what="cluster state ok on every node")

    @staticmethod
    def start_node() -> RedisServer:
        return RedisServer(
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            NODE_TIMEOUT_MS,
            port=cluster_port(),
        )

    def converged(self) -> bool:
        for node in self.nodes:
            if node.proc.poll() is not None:
                continue
            with node.client(socket_timeout=1) as client:
                if client.execute_command("CLUSTER", "INFO").find(b"cluster_state:ok") < 0:
                    return False
        return True

    @staticmethod
    def knows(node: RedisServer, other: RedisServer) -> bool:
        """Whether `node` has finished the handshake with `other`."""
        with node.client(socket_timeout=1) as client:
            lines = client.execute_command("CLUSTER", "NODES").decode().splitlines()
        mine = [line for line in lines if f":{other.port}@" in line]
        return bool(mine) and "handshake" not in mine[0]

    def role(self, node: RedisServer) -> str:
        with node.client(socket_timeout=1) as client:
            return str(client.info("replication")["role"])

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class Sentinel(Process):
    """redis-sentinel watching one master set."""

    def __init__(self, master_port: int, quorum: int = 2, name: str = "mymaster") -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="cachescope-sentinel-"))
        self.port = free_port()
        config = self.workdir / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.workdir}\n"
            f"sentinel monitor {name} 127.0.0.1 {master_port} {quorum}\n"
            f"sentinel down-after-milliseconds {name} 1000\n"
            f"sentinel failover-timeout {name} 3000\n"
        )
        super().__init__(
            [require_binary("redis-sentinel"), str(config)], self.workdir, f"sentinel-{self.port}"
        )
        import redis

        self.client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
        wait_for(lambda: self.client.ping(), what=f"sentinel on {self.port}: {self.log()}")

    @property
    def uri(self) -> str:
        return f"redis://127.0.0.1:{self.port}"


class SentinelSet:
    """A primary, two replicas and three sentinels agreeing on them."""

    def __init__(self) -> None:
        self.primary = RedisServer()
        self.replicas = [
            RedisServer("--replicaof", "127.0.0.1", str(self.primary.port)) for _ in range(2)
        ]
        self.sentinels = [Sentinel(self.primary.port) for _ in range(3)]
        wait_for(self.settled, timeout=30, what="sentinels to see 2 replicas and 2 peers")

    @property
    def servers(self) -> list[RedisServer]:
        return [self.primary] + self.replicas

    def settled(self) -> bool:
        for sentinel in self.sentinels:
            master = sentinel.client.sentinel_master("mymaster")
            if master["num-slaves"] < 2 or master["num-other-sentinels"] < 2:
                return False
        return True

    def master_port(self) -> int:
        return int(self.sentinels[0].client.sentinel_get_master_addr_by_name("mymaster")[1])

    def stop(self) -> None:
        for process in self.sentinels + self.servers:
            process.stop()
