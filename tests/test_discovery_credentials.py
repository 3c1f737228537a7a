"""Discovered nodes get credentials only inside the seed's range, or discover.allow.

A cluster node or a sentinel can announce any address; without this, the
password of the seed would follow the announcement to wherever it points.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import hostile
import pytest
from cachescope.config.loader import parse_config
from cachescope.config.yamlmarks import ConfigError
from cachescope.scrape.discovery import SentinelDiscovery, range_of, seed_networks
from hostile import HostileServer
from servers import Listener, StartExporter, wait_for

PASSWORD = "disc-Secret-pw-3310"


def node_of(seed: str, host: str, allow: str = "") -> tuple[str, str]:
    """(refusal, password sent) for a node `host` reported by a sentinel at `seed`."""
    extra = f", allow: [{allow}]" if allow else ""
    config = parse_config(
        f"targets:\n  - uri: redis://{seed}:26379\n    password: {PASSWORD}\n"
        f"    discover: {{kind: sentinel{extra}}}\n"
    )
    discovery = SentinelDiscovery(config.targets[0])
    # What a refresh computes first; set here so the test sends nothing to a 10/8 address.
    discovery._seed_networks = seed_networks(config.targets[0])
    node = discovery._node(host, 26379 if host == "10.1.2.3" else 6379, ("master_set", "m"))
    password = node.credentials.password
    return node.refused, password.reveal() if password else ""


@pytest.mark.parametrize(
    ("seed", "host", "allowed"),
    [
        ("10.1.2.3", "10.200.0.9", True),  # same private range
        ("10.1.2.3", "192.168.1.1", False),  # another private range
        ("10.1.2.3", "8.8.8.8", False),
        ("192.168.5.5", "192.168.99.1", True),
        ("172.20.0.1", "172.31.255.1", True),
        ("172.20.0.1", "172.32.0.1", False),
        ("127.0.0.1", "127.0.0.2", True),
        ("203.0.113.5", "203.0.113.77", True),  # a public seed: its /24
        ("203.0.113.5", "203.0.114.1", False),
        ("[fd00::1]", "fd12::7", True),
        ("[2001:db8::1]", "2001:db8::99", True),
        ("[2001:db8::1]", "2001:db8:0:1::1", False),
        ("10.1.2.3", "evil.example", False),  # a name is never resolved to be let in
        ("10.1.2.3", "10.0.0.1\x00.evil", False),
        ("10.1.2.3", "2130706433", False),
    ],
)
def test_default_policy_is_the_seeds_own_range(seed: str, host: str, allowed: bool) -> None:
    refused, password = node_of(seed, host)
    assert (refused == "") is allowed, refused
    assert (password == PASSWORD) is allowed


def test_discover_allow_replaces_the_default() -> None:
    assert node_of("10.1.2.3", "10.9.9.9", allow="192.168.0.0/16")[0] != ""
    assert node_of("10.1.2.3", "192.168.3.3", allow="192.168.0.0/16") == ("", PASSWORD)
    assert node_of("10.1.2.3", "10.1.2.3", allow="192.168.0.0/16") == ("", PASSWORD)  # the seed


def test_discover_allow_must_be_cidrs_and_names_the_field() -> None:
    with pytest.raises(ConfigError, match=r"targets\[0\]\.discover\.allow\[0\]"):
        parse_config(
            "targets:\n  - uri: redis://10.0.0.1:6379\n"
            "    discover: {kind: cluster, allow: [10.0.0.*]}\n"
        )


def test_range_of_public_ipv6_is_its_64() -> None:
    assert range_of(ipaddress.ip_address("2001:db8::5")) == ipaddress.ip_network("2001:db8::/64")


def bulk(text: str) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(text.encode()), text.encode())


def fake_sentinel(trap_port: int) -> HostileServer:
    """A sentinel that reports two master sets: one on the trap's port, one at a NUL host."""

    def entry(name: str, ip: str) -> bytes:
        fields = ["name", name, "ip", ip, "port", str(trap_port), "flags", "master"]
        return b"*%d\r\n" % len(fields) + b"".join(bulk(field) for field in fields)

    def answer(command: list[bytes]) -> bytes:
        words = [word.upper() for word in command[:2]]
        if words == [b"SENTINEL", b"MASTERS"]:
            return b"*2\r\n" + entry("trapped", "127.0.0.1") + entry("nul", "127.0.0.1\x00.x")
        if words == [b"SENTINEL", b"REPLICAS"] or words == [b"SENTINEL", b"SLAVES"]:
            return b"*0\r\n"
        if words[0] in (b"AUTH", b"PING"):
            return b"+OK\r\n"
        return b"-ERR unknown command\r\n"

    return HostileServer(hostile.redis_like(answer))


@pytest.fixture
def trap() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def test_a_node_outside_discover_allow_is_up_zero_with_an_error_and_never_contacted(
    start_exporter: StartExporter, tmp_path: Path, trap: Listener
) -> None:
    sentinel = fake_sentinel(trap.port)
    try:
        config = tmp_path / "cachescope.yml"
        config.write_text(
            f"targets:\n  - uri: redis://{sentinel.address}\n    name: sentinel\n"
            f"    password: {PASSWORD}\n"
            "    discover: {kind: sentinel, interval: 200ms, allow: [10.0.0.0/8]}\n"
        )
        exporter = start_exporter("--config.file", str(config), "--timeout", "1s")
        node = f"127.0.0.1:{trap.port}"

        def refused_shown() -> bool:
            errors = exporter.metrics().scrape_errors(node)
            return errors.get("not_allowed", 0) >= 1

        wait_for(refused_shown, what="the refused node's error counter")
        metrics = exporter.metrics()
        assert metrics.value("redis_up", instance=node) == 0
        assert metrics.scrape_errors(f"invalid-host:{trap.port}").get("not_allowed", 0) >= 1
        assert trap.accepted() == 0
        log = exporter.log()
        assert "outside discover.allow" in log
        assert PASSWORD not in log + exporter.get("/")[1] + exporter.get("/metrics")[1]
    finally:
        sentinel.stop()
