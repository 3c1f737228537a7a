"""Allow patterns for `/scrape?target=`: which unlisted targets may be reached.

    redis://10.0.0.0/8:*             any port on a network (CIDR; names are never resolved)
    rediss://*.cache.internal:6379   `*` stands for one whole DNS label, never a dot
    redis://cache-a.internal:6379-6390  a port range
    memcached://[fd00::/8]:11211     IPv6 networks go in brackets
    unix:///run/redis/*.sock         `*` stands for part of one path component

Matching works on what parse_uri made canonical (a validated host, an IP in one
spelling), and a socket path is resolved (`..` and symlinks) before it is
matched; `admit` returns that resolved endpoint, and that is what is connected
to. A dotted glob like `10.0.0.*` is refused: as text it also matches the name
`10.0.0.1.attacker.example`; the range is written `10.0.0.0/24`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from typing import TYPE_CHECKING

from cachescope.config.hosts import canonical_host, dns_label, is_ip
from cachescope.config.targets import MEMCACHED_SCHEMES, REDIS_SCHEMES, Endpoint

if TYPE_CHECKING:
    from cachescope.config.credentials import Credentials

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNIX_SCHEMES = ("unix", "memcached+unix")
_GLOB_LABEL = re.compile(r"[a-z0-9_*-]{1,63}")
_PORTS = re.compile(r"(\*)|([1-9][0-9]{0,4})(?:-([1-9][0-9]{0,4}))?")


@dataclasses.dataclass(frozen=True, slots=True)
class Pattern:
    text: str
    scheme: str
    network: Network | None = None  # an IP range, or one IP as /32 or /128
    name: re.Pattern[str] | None = None  # a DNS name, `*` one label or part of one
    ports: tuple[int, int] = (1, 65535)
    path: re.Pattern[str] | None = None  # a socket path, `*` within one component

    def admit(self, endpoint: Endpoint) -> Endpoint | None:
        """The endpoint to connect to if this pattern allows `endpoint`, else None."""
        if self.scheme not in ("*", endpoint.scheme):
            return None
        if endpoint.is_unix:
            if self.path is None:
                return None
            # realpath resolves `..` after symlinks, as the kernel will when connecting.
            resolved = os.path.realpath(endpoint.path)
            return (
                dataclasses.replace(endpoint, path=resolved)
                if self.path.fullmatch(resolved)
                else None
            )
        if self.path is not None or not self.ports[0] <= endpoint.port <= self.ports[1]:
            return None
        if is_ip(endpoint.host):
            allowed = (
                self.network is not None and ipaddress.ip_address(endpoint.host) in self.network
            )
        else:
            allowed = self.name is not None and self.name.fullmatch(endpoint.host) is not None
        return endpoint if allowed else None

    def matches(self, endpoint: Endpoint) -> bool:
        return self.admit(endpoint) is not None


@dataclasses.dataclass(frozen=True, slots=True)
class AllowRule:
    pattern: Pattern
    credentials: Credentials


def parse_pattern(text: str) -> Pattern:
    """Parse an allow pattern; raise ValueError saying what is wrong and how to write it."""
    scheme, sep, rest = text.strip().partition("://")
    if not sep or not rest:
        raise ValueError(f"allow pattern {text!r} must look like redis://HOST:PORT")
    if scheme not in ("*",) + REDIS_SCHEMES + MEMCACHED_SCHEMES:
        raise ValueError(f"allow pattern {text!r} has an unknown scheme {scheme!r}")
    if re.search(r"[\x00-\x20\x7f@?#%\\]", rest):
        raise ValueError(f"allow pattern {text!r} has a space, control character, @ ? # % or \\")
    if scheme in UNIX_SCHEMES:
        return Pattern(text, scheme, path=_path_glob(text, rest))
    if scheme == "*" and rest.startswith("/"):
        raise ValueError(
            f"allow pattern {text!r}: a socket path needs unix:// or memcached+unix://"
        )
    host, ports = _split(text, rest)
    try:
        if host.startswith("["):
            return Pattern(text, scheme, network=_network(host[1:-1]), ports=ports)
        if "/" in host or is_ip(host):
            return Pattern(text, scheme, network=_network(host), ports=ports)
        return Pattern(text, scheme, name=_name_glob(host), ports=ports)
    except ValueError as exc:
        raise ValueError(f"allow pattern {text!r}: {exc}") from None


def parse_network(text: str) -> Network:
    """A network in CIDR form, as discover.allow lists them."""
    try:
        return ipaddress.ip_network(text)
    except ValueError as exc:
        raise ValueError(f"{exc}; write a network like 10.1.0.0/16") from None


def _split(text: str, rest: str) -> tuple[str, tuple[int, int]]:
    """HOST and the port range of HOST:PORTS."""
    if rest.startswith("["):
        inner, _, after = rest.partition("]")
        host, colon, ports = inner + "]", after[:1], after[1:]
    else:
        host, colon, ports = rest.rpartition(":") if ":" in rest else (rest, "", "")
    if not colon or not host:
        raise ValueError(
            f"allow pattern {text!r} needs HOST:PORT; the port may be a range"
            " like 6379-6390 or * for any"
        )
    found = _PORTS.fullmatch(ports)
    if found is None:
        raise ValueError(f"allow pattern {text!r}: the port must be N, N-M or *")
    if found.group(1):
        return host, (1, 65535)
    low, high = int(found.group(2)), int(found.group(3) or found.group(2))
    if not 1 <= low <= high <= 65535:
        raise ValueError(f"allow pattern {text!r}: the port range must lie within 1-65535")
    return host, (low, high)


def _network(text: str) -> Network:
    """An IP range in CIDR form, or one IP address."""
    if "*" in text:
        raise ValueError("an IPv6 range is written in CIDR form, e.g. [fd00::/8]")
    network = ipaddress.ip_network(text)
    if network.num_addresses == 1:
        canonical_host(str(network.network_address), bracketed=network.version == 6)
    return network


def _name_glob(host: str) -> re.Pattern[str]:
    """A regex for a DNS name in which `*` matches within one label only."""
    labels = host.lower().split(".")
    if all(re.fullmatch(r"[0-9*]+", label) for label in labels):
        raise ValueError(f"an IP range is written in CIDR form: {_cidr_hint(labels)}")
    if re.fullmatch(r"[0-9*]+", labels[-1]):
        raise ValueError("the last label of a host pattern must be written out, e.g. *.internal")
    parts = []
    for label in labels:
        if "*" not in label:
            parts.append(re.escape(dns_label(label)))
        elif _GLOB_LABEL.fullmatch(label):
            parts.append("[a-z0-9_-]*".join(re.escape(piece) for piece in label.split("*")))
        else:
            raise ValueError("a label with * may hold only letters, digits, '-' and '_'")
    return re.compile(r"\.".join(parts))


def _cidr_hint(labels: list[str]) -> str:
    """`10.0.0.*` -> `10.0.0.0/24`; a generic example when no CIDR says the same."""
    fixed = [label for label in labels if label != "*"]
    if not fixed:
        return "write 0.0.0.0/0 for any IPv4 address, or better, the network of your caches"
    if len(labels) == 4 and labels[: len(fixed)] == fixed and all(x.isdecimal() for x in fixed):
        address = ".".join(fixed + ["0"] * (4 - len(fixed)))
        return f"write {address}/{8 * len(fixed)}"
    return "write e.g. 10.0.0.0/24"


def _path_glob(text: str, path: str) -> re.Pattern[str]:
    """A regex for a socket path in which `*` and `?` stay within one component."""
    if not path.startswith("/") or "//" in path:
        raise ValueError(f"allow pattern {text!r} needs an absolute socket path")
    parts = path.split("/")
    if any(part in (".", "..") for part in parts):
        raise ValueError(f"allow pattern {text!r} may not hold . or .. components")
    # The literal directories are resolved now, so that /var/run/x/*.sock still matches
    # a target resolved to /run/x/a.sock where /var/run is a link to /run.
    first_glob = next((i for i, part in enumerate(parts) if "*" in part or "?" in part), len(parts))
    literal = os.path.realpath("/".join(parts[:first_glob]) or "/")
    globbed = [
        re.escape(part).replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        for part in parts[first_glob:]
    ]
    return re.compile(
        "/".join([re.escape(literal.rstrip("/"))] + globbed) if globbed else re.escape(literal)
    )
