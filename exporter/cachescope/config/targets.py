"""Target addresses: parsing URIs, and keeping the secrets in them secret.

Accepted spellings (the same as redis-py and redis_exporter, plus Memcached):
    redis://[[user]:password@]host[:port][/db]    plain TCP, default port 6379
    rediss://...                                   TLS
    unix:///path/to/redis.sock[?db=N]              Unix socket
    host:port                                      shorthand for redis://host:port
    memcached://host[:port]                        default port 11211
    memcached+unix:///path/to/memcached.sock
"""

from __future__ import annotations

import dataclasses
import re
from typing import NamedTuple
from urllib.parse import unquote

from cachescope.config.hosts import canonical_host

REDIS_SCHEMES = ("redis", "rediss", "unix")
MEMCACHED_SCHEMES = ("memcached", "memcacheds", "memcached+unix")
DEFAULT_PORTS = {"redis": 6379, "rediss": 6379, "memcached": 11211, "memcacheds": 11211}


class Secret:
    """A string that never shows itself in repr, str, logs or pages."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('<redacted>')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class EndpointKey(NamedTuple):
    """An endpoint's identity, credentials left out: what /scrape finds a target by."""

    scheme: str
    host: str  # lower case
    port: int
    path: str
    db: int


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """Where a cache listens. Credentials found in the URI are kept apart."""

    scheme: str
    host: str = ""
    port: int = 0
    path: str = ""  # Unix socket path
    db: int = 0
    username: str | None = None
    password: Secret | None = None

    @property
    def kind(self) -> str:
        """'redis' or 'memcached'."""
        return "memcached" if self.scheme in MEMCACHED_SCHEMES else "redis"

    @property
    def tls(self) -> bool:
        return self.scheme in ("rediss", "memcacheds")

    @property
    def is_unix(self) -> bool:
        return self.scheme in ("unix", "memcached+unix")

    def address(self) -> str:
        """host:port, or the socket path; what a human calls this target."""
        if self.is_unix:
            return self.path
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def default_name(self) -> str:
        """The name of a target whose config gives none: host:port, plus the database if not 0.

        db 0 keeps plain host:port (the name series had before databases counted), and a
        TCP default name reads back as this endpoint, so /scrape?target=<name> reaches it.
        """
        if not self.db:
            return self.address()
        return f"{self.address()}?db={self.db}" if self.is_unix else f"{self.address()}/{self.db}"

    def key(self) -> EndpointKey:
        """Identity of the endpoint, without credentials."""
        return EndpointKey(self.scheme, self.host.lower(), self.port, self.path, self.db)

    def redacted(self) -> str:
        """The URI with any password removed; safe for logs and pages."""
        if self.is_unix:
            text = f"{self.scheme}://{self.path}"
            return text + (f"?db={self.db}" if self.db else "")
        user = f"{self.username}@" if self.username else ""
        db = f"/{self.db}" if self.db else ""
        return f"{self.scheme}://{user}{self.address()}{db}"


def parse_uri(text: str) -> Endpoint:
    """Parse a target URI; raise ValueError with a message that repeats no part of it."""
    raw = text.strip()
    if not raw:
        raise ValueError("target URI is empty")
    if _UNSAFE.search(raw):
        raise ValueError(f"target URI contains a space or a control character; {_ENCODE_HINT}")
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "redis", raw
    scheme = scheme.lower()
    if scheme not in REDIS_SCHEMES + MEMCACHED_SCHEMES:
        known = ", ".join(REDIS_SCHEMES + MEMCACHED_SCHEMES)
        raise ValueError(f"target URI has an unknown scheme (known: {known})")
    if scheme in ("unix", "memcached+unix"):
        return _parse_unix(scheme, rest)
    cut = _AUTHORITY_END.search(rest)
    authority, tail = (rest[: cut.start()], rest[cut.start() :]) if cut else (rest, "")
    if "@" in tail or "#" in tail:
        raise ValueError(f"target URI has an '@' or '#' after its host; {_ENCODE_HINT}")
    userinfo, at, hostport = authority.rpartition("@")
    host, port = _split_hostport(hostport, DEFAULT_PORTS[scheme])
    path, _, query = tail.partition("?")
    if path.strip("/") and query:
        raise ValueError("target URI gives the database twice (path and ?db=)")
    db = _parse_db(path.strip("/") or _query_db(query))
    username, password = _userinfo(userinfo) if at else (None, None)
    return Endpoint(scheme, host=host, port=port, db=db, username=username, password=password)


_UNSAFE = re.compile(r"[\x00-\x20\x7f]")
_AUTHORITY_END = re.compile(r"[/?#]")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
_ENCODE_HINT = "percent-encode / # ? @ and spaces in a user name or password (%2F %23 %3F %40 %20)"


def _parse_unix(scheme: str, rest: str) -> Endpoint:
    """unix://[[user]:password@]/path[?db=N]"""
    userinfo, at, path = rest.partition("@") if not rest.startswith("/") else ("", "", rest)
    path, _, query = path.partition("?")
    if not path.startswith("/") or "#" in path:
        raise ValueError(
            f"{scheme}:// target needs an absolute socket path, e.g. {scheme}:///run/x.sock"
        )
    username, password = _userinfo(userinfo) if at else (None, None)
    return Endpoint(
        scheme, path=path, db=_parse_db(_query_db(query)), username=username, password=password
    )


def _split_hostport(hostport: str, default_port: int) -> tuple[str, int]:
    """Canonical host and port of `host[:port]` or `[v6][:port]`."""
    if hostport.startswith("["):
        inner, bracket, after = hostport[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise ValueError("target URI has an unclosed '[' or text after ']'")
        host, port = canonical_host(inner, bracketed=True), after[1:]
        has_port = bool(after)
    else:
        name, colon, port = hostport.partition(":")
        host, has_port = canonical_host(name), bool(colon)
    if not has_port:
        return host, default_port
    if not _PORT.fullmatch(port) or int(port) > 65535:
        raise ValueError(f"target URI has a port that is not a number 1-65535; {_ENCODE_HINT}")
    return host, int(port)


def _userinfo(text: str) -> tuple[str | None, Secret | None]:
    user, colon, password = text.partition(":")
    return (unquote(user) or None), (Secret(unquote(password)) if colon and password else None)


def _query_db(query: str) -> str:
    db = "0"
    for item in query.split("&") if query else []:
        key, _, value = item.partition("=")
        if key != "db":
            raise ValueError("target URI has a query parameter other than db")
        db = value
    return db


def _parse_db(text: str) -> int:
    if not (text.isascii() and text.isdecimal()) or len(text) > 5:
        raise ValueError("target URI has a database that is not a number")
    return int(text)
