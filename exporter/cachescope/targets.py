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
from urllib.parse import parse_qs, unquote, urlsplit

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

    def key(self) -> tuple[str, str, int, str, int]:
        """Identity of the endpoint, without credentials."""
        return (self.scheme, self.host.lower(), self.port, self.path, self.db)

    def redacted(self) -> str:
        """The URI with any password removed; safe for logs and pages."""
        if self.is_unix:
            text = f"{self.scheme}://{self.path}"
            return text + (f"?db={self.db}" if self.db else "")
        user = f"{self.username}@" if self.username else ""
        db = f"/{self.db}" if self.db else ""
        return f"{self.scheme}://{user}{self.address()}{db}"


def parse_uri(text: str) -> Endpoint:
    """Parse a target URI; raise ValueError with a message that holds no secret."""
    raw = text.strip()
    if not raw:
        raise ValueError("target URI is empty")
    if "://" not in raw:
        raw = "redis://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"cannot parse target URI {_redact_raw(raw)!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in REDIS_SCHEMES + MEMCACHED_SCHEMES:
        known = ", ".join(REDIS_SCHEMES + MEMCACHED_SCHEMES)
        raise ValueError(f"unknown scheme {scheme!r} in target URI (known: {known})")
    username = unquote(parts.username) if parts.username else None
    password = Secret(unquote(parts.password)) if parts.password else None
    query = parse_qs(parts.query)
    if scheme in ("unix", "memcached+unix"):
        if not parts.path:
            raise ValueError(f"{scheme}:// target needs a socket path, e.g. {scheme}:///run/x.sock")
        db = _parse_db(query.get("db", ["0"])[0])
        return Endpoint(scheme, path=parts.path, db=db, username=username, password=password)
    if not parts.hostname:
        raise ValueError(f"target URI {_redact_raw(raw)!r} has no host")
    db = _parse_db(parts.path.strip("/") or query.get("db", ["0"])[0])
    return Endpoint(
        scheme,
        host=parts.hostname,
        port=port or DEFAULT_PORTS[scheme],
        db=db,
        username=username or None,
        password=password,
    )


def _parse_db(text: str) -> int:
    if not text.isdecimal():
        raise ValueError(f"database must be a number, got {text!r}")
    return int(text)


def _redact_raw(raw: str) -> str:
    """Drop the userinfo of a URI that could not be parsed."""
    scheme, sep, rest = raw.partition("://")
    if "@" in rest:
        rest = "<redacted>@" + rest.rsplit("@", 1)[1]
    return scheme + sep + rest
