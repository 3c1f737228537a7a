"""Allow patterns for `/scrape?target=`: which unlisted targets may be reached.

    redis://10.0.0.0/8:*          any port on a network (IP literals only: no DNS)
    rediss://*.cache.internal:6379  a host name glob and a port
    memcached://[fd00::/8]:11211  IPv6 networks go in brackets
    unix:///run/redis/*.sock      socket path glob

A name is matched as written, never resolved, so a DNS answer cannot widen
what the pattern allows.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from cachescope.targets import MEMCACHED_SCHEMES, REDIS_SCHEMES, Endpoint

if TYPE_CHECKING:
    from cachescope.config import Credentials

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclasses.dataclass(frozen=True)
class Pattern:
    text: str
    scheme: str
    host_glob: str = ""
    network: Network | None = None
    port_glob: str = "*"
    path_glob: str = ""

    def matches(self, endpoint: Endpoint) -> bool:
        if self.scheme not in ("*", endpoint.scheme):
            return False
        if endpoint.is_unix:
            return bool(self.path_glob) and fnmatchcase(endpoint.path, self.path_glob)
        if self.path_glob or not fnmatchcase(str(endpoint.port), self.port_glob):
            return False
        if self.network is not None:
            try:
                return ipaddress.ip_address(endpoint.host) in self.network
            except ValueError:
                return False
        return fnmatchcase(endpoint.host.lower(), self.host_glob)


@dataclasses.dataclass(frozen=True)
class AllowRule:
    pattern: Pattern
    credentials: Credentials


def parse_pattern(text: str) -> Pattern:
    """Parse an allow pattern; raise ValueError saying what is wrong."""
    scheme, sep, rest = text.strip().partition("://")
    if not sep or not rest:
        raise ValueError(f"allow pattern {text!r} must look like redis://HOST:PORT")
    if scheme not in ("*",) + REDIS_SCHEMES + MEMCACHED_SCHEMES:
        raise ValueError(f"allow pattern {text!r} has an unknown scheme {scheme!r}")
    if scheme in ("unix", "memcached+unix"):
        return Pattern(text, scheme, path_glob=rest)
    if rest.startswith("["):
        host, _, port = rest[1:].partition("]")
        port = port.lstrip(":") or "*"
    else:
        host, _, port = rest.rpartition(":") if ":" in rest else (rest, "", "*")
    if not host:
        raise ValueError(f"allow pattern {text!r} has no host")
    if "/" in host:
        try:
            return Pattern(text, scheme, network=ipaddress.ip_network(host), port_glob=port)
        except ValueError as exc:
            raise ValueError(f"allow pattern {text!r}: {exc}") from None
    return Pattern(text, scheme, host_glob=host.lower(), port_glob=port)
