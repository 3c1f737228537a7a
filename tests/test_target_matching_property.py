"""Properties of target matching: hostile spellings never widen what a pattern allows.

The invariant, for every pattern form: if `admit` lets a target through, the
host (or socket path) that will be connected to is exactly one the pattern
allows, spelled so that the C resolver and the kernel read it the same way.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from cachescope.config.allow import Pattern, parse_pattern
from cachescope.config.targets import Endpoint, parse_uri
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PIECES = [
    "a", "b", "cache", "internal", "evil", ".", "..", "*", "10", "0", "00", "7", "127", "1",
    "255", "256", "\x00", "\t", "\n", "\r", " ", "\x7f", "\x1b", "%00", "%2e", "%2E", "%2f",
    "%3a", "\uff0e", "\u3002", "\uff41", "\u0430", "xn--", "xn--80a", "-", "_", "@", ":",
    "[", "]", "::", "::1", "fd00", "ffff", "/", "?", "#", "\\", "0x7f", "0177", "\u00df",
    "\u200b", "A", "CACHE",
]  # fmt: skip
BASES = ["x.cache.internal", "10.0.0.7", "10.0.0.255", "[fd00::1]", "cache-a.internal", ""]
PORTS = ["6379", "6380", "06379", "0", "65536", "6379 ", "+6379", "-1", "6379:1", "", "%36"]

hostile_hosts = st.builds(
    lambda base, extra, where: base[:where] + extra + base[where:],
    st.sampled_from(BASES),
    st.lists(st.sampled_from(PIECES), max_size=6).map("".join),
    st.integers(0, 20),
)
hostile_targets = st.builds(
    lambda scheme, userinfo, host, port, tail: f"{scheme}{userinfo}{host}{port}{tail}",
    st.sampled_from(["redis://", "rediss://", "REDIS://", "", "memcached://", "unix://"]),
    st.sampled_from(["", "user@", ":pw@", "a:b@", "x.cache.internal@", "10.0.0.7:6379@"]),
    hostile_hosts,
    st.one_of(st.just(""), st.sampled_from(PORTS).map(lambda port: ":" + port)),
    st.sampled_from(["", "/0", "/1", "?db=2", "#x", "/@evil", "/../x"]),
)


def resolver_reads_as(host: str, address: str) -> bool:
    """Whether the C library parses `host` as exactly the IP `address`."""
    ip = ipaddress.ip_address(address)
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    return socket.inet_pton(family, host) == ip.packed and host == str(ip)


def plain_name(host: str) -> bool:
    """A host the resolver reads as a DNS name, character for character."""
    if not re.fullmatch(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*", host):
        return False
    try:
        socket.inet_aton(host)
    except OSError:
        return True
    return False


def in_network(network: str) -> Callable[[Endpoint], bool]:
    def check(endpoint: Endpoint) -> bool:
        return ipaddress.ip_address(endpoint.host) in ipaddress.ip_network(network) and (
            resolver_reads_as(endpoint.host, endpoint.host)
        )

    return check


def one_label_under(suffix: str) -> Callable[[Endpoint], bool]:
    def check(endpoint: Endpoint) -> bool:
        first, _, rest = endpoint.host.partition(".")
        return rest == suffix and bool(first) and plain_name(endpoint.host)

    return check


CASES: list[tuple[str, Callable[[Endpoint], bool], tuple[int, int]]] = [
    ("redis://x.cache.internal:6379", lambda e: e.host == "x.cache.internal", (6379, 6379)),
    ("*://*.cache.internal:*", one_label_under("cache.internal"), (1, 65535)),
    (
        "redis://cache-*.internal:6379-6390",
        lambda e: (
            plain_name(e.host)
            and e.host.count(".") == 1
            and e.host.startswith("cache-")
            and e.host.endswith(".internal")
        ),
        (6379, 6390),
    ),  # fmt: skip
    ("redis://10.0.0.0/24:*", in_network("10.0.0.0/24"), (1, 65535)),
    ("redis://10.0.0.7:6379", lambda e: e.host == "10.0.0.7", (6379, 6379)),
    ("*://[fd00::/8]:6379-6380", in_network("fd00::/8"), (6379, 6380)),
]


@pytest.mark.parametrize(("text", "host_ok", "ports"), CASES, ids=[case[0] for case in CASES])
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(target=hostile_targets)
def test_a_matched_tcp_target_connects_only_where_the_pattern_allows(
    text: str, host_ok: Callable[[Endpoint], bool], ports: tuple[int, int], target: str
) -> None:
    pattern = parse_pattern(text)
    try:
        endpoint = parse_uri(target)
    except ValueError:
        return
    admitted = pattern.admit(endpoint)
    if admitted is None:
        return
    assert admitted == endpoint  # a TCP target is connected to as parsed
    assert host_ok(admitted), (target, admitted)
    assert ports[0] <= admitted.port <= ports[1]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """allowed/ with a socket-like file, a link out to other/, and a link back in."""
    root = tmp_path_factory.mktemp("sockets").resolve()
    for directory in ("allowed", "other", "allowed/sub"):
        (root / directory).mkdir()
    for name in ("allowed/a.sock", "other/evil.sock"):
        (root / name).touch()
    (root / "allowed" / "out.sock").symlink_to(root / "other" / "evil.sock")
    (root / "allowed" / "up").symlink_to(root / "other")
    (root / "other" / "in.sock").symlink_to(root / "allowed" / "a.sock")
    return root


COMPONENTS = ["allowed", "other", "sub", "up", "..", ".", "", "a.sock", "evil.sock",
              "out.sock", "in.sock", "x.sock", "*.sock", "%2e%2e", "a.sock\x00"]  # fmt: skip


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(st.sampled_from(COMPONENTS), min_size=1, max_size=6))
def test_a_matched_socket_path_is_resolved_and_inside_the_allowed_directory(
    tree: Path, parts: list[str]
) -> None:
    pattern = parse_pattern(f"unix://{tree}/allowed/*.sock")
    try:
        endpoint = parse_uri(f"unix://{tree}/" + "/".join(parts))
    except ValueError:
        return
    admitted = pattern.admit(endpoint)
    if admitted is None:
        return
    assert os.path.realpath(admitted.path) == admitted.path  # no link or .. left to follow
    assert os.path.dirname(admitted.path) == str(tree / "allowed")
    assert admitted.path.endswith(".sock") and "\x00" not in admitted.path


def test_symlink_out_of_the_directory_is_refused_and_a_link_into_it_admitted(tree: Path) -> None:
    pattern = parse_pattern(f"unix://{tree}/allowed/*.sock")
    assert pattern.admit(parse_uri(f"unix://{tree}/allowed/out.sock")) is None
    admitted = pattern.admit(parse_uri(f"unix://{tree}/other/in.sock"))
    assert admitted is not None and admitted.path == str(tree / "allowed" / "a.sock")


SECRET_PIECES = ["Sekr3tPw", "/", "#", "?", "@", ":", "%", "%zz", "[", "]", " ", "\x00", "\n"]
USER_PIECES = ["Us3rNam3", "/", "#", "?", "@", ":", "[", "\x00"]


@settings(max_examples=500, deadline=None)
@given(
    scheme=st.sampled_from(["redis://", "rediss://", "unix://", "memcached://", "", "bogus://"]),
    user=st.lists(st.sampled_from(USER_PIECES), max_size=4).map("".join),
    password=st.lists(st.sampled_from(SECRET_PIECES), min_size=1, max_size=5).map("".join),
    rest=st.sampled_from(["127.0.0.1:6379", "/run/x.sock", "h:p", "[::1", "x:99999/a", ""]),
)
def test_no_parse_error_repeats_the_password_or_the_user(
    scheme: str, user: str, password: str, rest: str
) -> None:
    try:
        parse_uri(f"{scheme}{user}:{password}@{rest}")
    except ValueError as exc:
        message = str(exc).lower()
        assert "sekr3tpw" not in message
        assert "us3rnam3" not in message
        assert "\x00" not in message


@pytest.mark.parametrize(
    ("pattern", "hint"),
    [
        ("redis://10.0.0.*:*", "10.0.0.0/24"),
        ("redis://10.0.*.*:6379", "10.0.0.0/16"),
        ("redis://10.*.*.*:6379", "10.0.0.0/8"),
        ("redis://10.*.0.*:6379", "CIDR"),
        ("redis://[fd00::*]:6379", "[fd00::/8]"),
        ("redis://*:6379", "0.0.0.0/0"),
    ],
)
def test_ip_globs_are_refused_with_a_cidr_hint(pattern: str, hint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(hint)):
        parse_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    ["redis://x.internal", "redis://x.*:1", "redis://x.internal:0", "redis://x.internal:9-2",
     "redis://x.internal:63*", "unix:///a/../b/*.sock", "unix://relative/*.sock",
     "redis://a@x.internal:1", "redis://x\x00.internal:1", "redis://0.0.0.0:1"],
)  # fmt: skip
def test_ambiguous_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        parse_pattern(pattern)


def test_a_pattern_is_a_pattern() -> None:
    assert isinstance(parse_pattern("redis://10.0.0.0/8:*"), Pattern)
