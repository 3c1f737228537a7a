"""Discovery: a cluster seed expands to every node, a sentinel to its master sets.

Each source keeps the last topology it saw. A refresh asks the nodes it knows
one after another until one answers, so a seed that died is not fatal while
another known node lives; if none answers, the last answer stands.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

from cachescope.config import Credentials, TargetConfig
from cachescope.errors import ScrapeError
from cachescope.redis import sentinel
from cachescope.redis.client import RedisConnection, ReplyError
from cachescope.redis.cluster import parse_cluster_nodes
from cachescope.targets import Endpoint

log = logging.getLogger(__name__)


class Discovery:
    """Expands one discovery target into the targets it stands for."""

    def __init__(self, target: TargetConfig) -> None:
        assert target.discovery is not None
        self.target = target
        self.config = target.discovery
        self.known: list[TargetConfig] = []
        self._refreshed = float("-inf")
        self._lock = threading.Lock()

    def targets(self) -> list[TargetConfig]:
        """The expanded targets, refreshed when older than the discovery interval."""
        with self._lock:
            if time.monotonic() - self._refreshed >= self.config.interval:
                self._refreshed = time.monotonic()
                self._refresh()
            return list(self.known)

    def _refresh(self) -> None:
        for source in self._sources():
            try:
                found = self._ask(source)
            except ScrapeError as exc:
                log.warning(
                    "discovery=%s source=%s error=%s msg=%r",
                    self.target.name,
                    source.endpoint.redacted(),
                    exc.kind,
                    exc.message,
                )
                continue
            if found:
                self.known = sorted(found, key=lambda target: target.name)
                return
        log.warning(
            "discovery=%s no source answered; keeping %d known targets",
            self.target.name,
            len(self.known),
        )

    def _sources(self) -> list[TargetConfig]:
        return [self.target]

    def _ask(self, source: TargetConfig) -> list[TargetConfig]:
        raise NotImplementedError

    def _query(self, source: TargetConfig, commands: list[tuple[str, ...]]) -> list[object]:
        connection = RedisConnection(source)
        try:
            return connection.execute(commands, time.monotonic() + source.timeout)
        finally:
            connection.close()

    def _node(self, host: str, port: int, label: tuple[str, str]) -> TargetConfig:
        """A discovered node: the source's scheme and labels, the nodes' credentials."""
        seed = self.target
        endpoint = Endpoint(seed.endpoint.scheme, host=host, port=port)
        credentials: Credentials = self.config.node_credentials or seed.credentials
        labels = tuple(sorted(dict(seed.labels + (label,)).items()))
        return TargetConfig(endpoint, endpoint.address(), labels, credentials, seed.config_command)


class ClusterDiscovery(Discovery):
    """CLUSTER NODES from the seed, or from any node seen before."""

    def _sources(self) -> list[TargetConfig]:
        seed = dataclasses.replace(
            self.target, credentials=self.config.node_credentials or self.target.credentials
        )
        return [seed] + [node for node in self.known if node.endpoint != seed.endpoint]

    def _ask(self, source: TargetConfig) -> list[TargetConfig]:
        reply = self._query(source, [("CLUSTER", "NODES")])[0]
        if not isinstance(reply, bytes):
            raise ScrapeError("command", f"CLUSTER NODES failed: {reply}")
        label = ("cluster", self.target.name)
        return [
            self._node(node.host or source.endpoint.host, node.port, label)
            for node in parse_cluster_nodes(reply.decode("utf-8", "replace"))
            if not {"noaddr", "handshake"} & node.flags
        ]


class SentinelDiscovery(Discovery):
    """The master and replicas of each master set, as the sentinel sees them now."""

    def _ask(self, source: TargetConfig) -> list[TargetConfig]:
        masters = sentinel.entries(self._query(source, [("SENTINEL", "MASTERS")])[0])
        wanted = self.config.master_sets
        masters = [m for m in masters if not wanted or m.get("name") in wanted]
        commands: list[tuple[str, ...]] = [
            ("SENTINEL", "REPLICAS", m.get("name", "")) for m in masters
        ]
        replies = self._query(source, commands) if commands else []
        found: list[TargetConfig] = []
        for master, replicas in zip(masters, replies, strict=True):
            label = ("master_set", master.get("name", ""))
            members = [master] + (
                [] if isinstance(replicas, ReplyError) else sentinel.entries(replicas)
            )
            for member in members:
                port = member.get("port", "")
                if port.isdecimal():
                    found.append(self._node(member.get("ip", ""), int(port), label))
        return found


def make_discovery(target: TargetConfig) -> Discovery:
    assert target.discovery is not None
    kind = target.discovery.kind
    return ClusterDiscovery(target) if kind == "cluster" else SentinelDiscovery(target)
