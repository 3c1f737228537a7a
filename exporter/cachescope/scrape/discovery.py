"""Discovery: a cluster seed expands to every node, a sentinel to its master sets.

Each source keeps the last topology it saw. A refresh asks the nodes it knows
one after another until one answers, so a seed that died is not fatal while
another known node lives; if none answers, the last answer stands. Refreshes
run in a background thread per seed (discoverythread.py), never in a request.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import time

from cachescope.config.allow import Network
from cachescope.config.credentials import Credentials
from cachescope.config.hosts import IPAddress, canonical_host, is_ip
from cachescope.config.records import TargetConfig
from cachescope.config.targets import Endpoint
from cachescope.errors import ScrapeError
from cachescope.logs import fields
from cachescope.redis import sentinel
from cachescope.redis.client import RedisConnection, ReplyError
from cachescope.redis.cluster import parse_cluster_nodes
from cachescope.transport import resolve

log = logging.getLogger(__name__)


class Discovery:
    """Expands one discovery target into the targets it stands for."""

    def __init__(self, target: TargetConfig) -> None:
        assert target.discovery is not None
        self.target = target
        self.config = target.discovery
        # Written by the refreshing thread only, and replaced whole, never changed in place:
        # a reader on another thread sees the old list or the new one.
        self.known: list[TargetConfig] = []
        self._seed_networks: tuple[Network, ...] = ()

    def refresh(self) -> bool:
        """Ask the sources in turn until one answers; whether one did."""
        if self.config.allow is None:
            self._seed_networks = seed_networks(self.target)
        for source in self._sources():
            try:
                found = self._ask(source)
            except ScrapeError as exc:
                log.warning(
                    "discovery source failed",
                    extra=fields(
                        discovery=self.target.name,
                        source=source.endpoint.redacted(),
                        error=exc.kind,
                        detail=exc.message,
                    ),
                )
                continue
            if found:
                self.known = sorted(found, key=lambda target: target.name)
                return True
        log.warning(
            "no discovery source answered; keeping the known targets",
            extra=fields(discovery=self.target.name, known=len(self.known)),
        )
        return False

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
        """A discovered node: the source's scheme and labels, the nodes' credentials.

        A node outside the allowed networks gets neither credentials nor a connection:
        a node can announce any address, and a password must not follow it there.
        """
        seed = self.target
        labels = tuple(sorted(dict(seed.labels + (label,)).items()))
        try:
            host = canonical_host(host, bracketed=":" in host)
        except ValueError as exc:
            refused, name = f"reported a host that is not valid: {exc}", f"invalid-host:{port}"
            nowhere = Endpoint(seed.endpoint.scheme, host="invalid.invalid", port=port)
            return TargetConfig(endpoint=nowhere, name=name, labels=labels, refused=refused)
        endpoint = Endpoint(seed.endpoint.scheme, host=host, port=port)
        refused = self._refusal(host, port)
        if refused:
            if all(node.name != endpoint.address() for node in self.known):  # once, when new
                log.warning(
                    "discovered node refused",
                    extra=fields(discovery=seed.name, node=endpoint.address(), reason=refused),
                )
            return TargetConfig(
                endpoint=endpoint, name=endpoint.address(), labels=labels, refused=refused
            )
        credentials: Credentials = self.config.node_credentials or seed.credentials
        return TargetConfig(
            endpoint=endpoint,
            name=endpoint.address(),
            labels=labels,
            credentials=credentials,
            config_command=seed.config_command,
            redis=seed.redis,
        )

    def _refusal(self, host: str, port: int) -> str:
        """Why `host` may not be contacted, or '' if it may."""
        if (host, port) == (self.target.endpoint.host, self.target.endpoint.port):  # the seed
            return ""
        networks = self._networks
        if is_ip(host) and any(ipaddress.ip_address(host) in net for net in networks):
            return ""
        shown = ", ".join(map(str, networks)) or "none"
        where = "discover.allow" if self.config.allow is not None else "the seed's range"
        return f"node is outside {where} ({shown}); it gets no credentials and no connection"

    @property
    def _networks(self) -> tuple[Network, ...]:
        if self.config.allow is not None:
            return self.config.allow
        return self._seed_networks


class ClusterDiscovery(Discovery):
    """CLUSTER NODES from the seed, or from any node seen before."""

    def _sources(self) -> list[TargetConfig]:
        seed = dataclasses.replace(
            self.target, credentials=self.config.node_credentials or self.target.credentials
        )
        known = [node for node in self.known if not node.refused]
        return [seed] + [node for node in known if node.endpoint != seed.endpoint]

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


# Private and loopback ranges: a seed in one of them vouches for nodes in the same one.
PRIVATE_RANGES = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "fc00::/7")
)


def range_of(address: IPAddress) -> Network:
    """The private range that holds `address`, else its /24 (IPv4) or /64 (IPv6)."""
    for network in PRIVATE_RANGES:
        if address in network:
            return network
    prefix = 24 if address.version == 4 else 64
    return ipaddress.ip_network(f"{address}/{prefix}", strict=False)


def seed_networks(seed: TargetConfig) -> tuple[Network, ...]:
    """The default discover.allow: the ranges of the seed's addresses (resolved if a name)."""
    host = seed.endpoint.host
    if is_ip(host):
        return (range_of(ipaddress.ip_address(host)),)
    try:
        found = resolve(host, seed.endpoint.port, time.monotonic() + seed.timeout)
    except ScrapeError:
        return ()
    addresses = {ipaddress.ip_address(info[4][0]) for info in found}
    return tuple(sorted({range_of(address) for address in addresses}, key=str))


def make_discovery(target: TargetConfig) -> Discovery:
    assert target.discovery is not None
    kind = target.discovery.kind
    return ClusterDiscovery(target) if kind == "cluster" else SentinelDiscovery(target)
