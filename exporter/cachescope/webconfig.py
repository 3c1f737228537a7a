"""Protecting the exporter's own endpoint: Prometheus' exporter-toolkit web config.

    tls_server_config:
      cert_file: /etc/cachescope/tls.crt
      key_file: /etc/cachescope/tls.key
      client_auth_type: RequireAndVerifyClientCert   # optional
      client_ca_file: /etc/cachescope/clients-ca.crt
      min_version: TLS12
    basic_auth_users:
      prometheus: $2y$10$...   # bcrypt hash, e.g. from `htpasswd -nBC 10 "" | tr -d ':'`

The same file works for node_exporter and friends, so users reuse what they know.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import ssl
import threading
from typing import Any

import bcrypt

from cachescope.yamlmarks import ConfigError, MarkedYAML, Path

_TLS_KEYS = {
    "cert_file",
    "key_file",
    "client_auth_type",
    "client_ca_file",
    "min_version",
    "max_version",
    "cipher_suites",
    "curve_preferences",
    "prefer_server_cipher_suites",
}
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# A bcrypt hash to check unknown users against, so that a wrong user name costs
# as long as a wrong password and user names cannot be probed by timing.
_DUMMY_HASH = bcrypt.hashpw(b"cachescope", bcrypt.gensalt(rounds=10))


@dataclasses.dataclass
class WebConfig:
    tls: ssl.SSLContext | None = None
    users: dict[str, bytes] = dataclasses.field(default_factory=dict)
    _verified: dict[tuple[str, bytes], bool] = dataclasses.field(default_factory=dict)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def authorized(self, header: str | None) -> bool:
        """Check an Authorization header; always true when no users are configured."""
        if not self.users:
            return True
        user, password = _basic_credentials(header)
        if user is None or password is None:
            return False
        # bcrypt is slow on purpose; remember answers by a digest of the password,
        # as exporter-toolkit does, so Prometheus' scrapes do not pay it each time.
        key = (user, hashlib.sha256(password.encode()).digest())
        with self._lock:
            known = self._verified.get(key)
        if known is not None:
            return known
        hashed = self.users.get(user)
        ok = bcrypt.checkpw(password.encode(), hashed or _DUMMY_HASH) and hashed is not None
        with self._lock:
            if len(self._verified) > 1000:
                self._verified.clear()
            self._verified[key] = ok
        return ok


def _basic_credentials(header: str | None) -> tuple[str | None, str | None]:
    if not header or not header.startswith("Basic "):
        return None, None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else (None, None)


def load_web_config(filename: str) -> WebConfig:
    """Read a web config file; raise ConfigError naming file, line and field."""
    try:
        with open(filename, encoding="utf-8") as handle:
            doc = MarkedYAML(handle.read(), filename)
    except OSError as exc:
        raise ConfigError(f"cannot read web config file: {exc.strerror}", filename) from None
    root = _mapping(
        doc, doc.data, (), {"tls_server_config", "basic_auth_users", "http_server_config"}
    )
    config = WebConfig()
    if root.get("tls_server_config") is not None:
        config.tls = _tls(doc, root["tls_server_config"])
    for user, hashed in _mapping(
        doc, root.get("basic_auth_users"), ("basic_auth_users",), None
    ).items():
        path: Path = ("basic_auth_users", user)
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            raise doc.error(path, "must be a bcrypt hash ($2y$...)")
        config.users[user] = hashed.encode()
    return config


def _mapping(doc: MarkedYAML, value: Any, path: Path, allowed: set[str] | None) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(path, "must be a mapping")
    for key in value:
        if allowed is not None and key not in allowed:
            raise doc.error(path + (key,), f"unknown field (known: {', '.join(sorted(allowed))})")
    return value


def _tls(doc: MarkedYAML, value: Any) -> ssl.SSLContext:
    path: Path = ("tls_server_config",)
    entry = _mapping(doc, value, path, _TLS_KEYS)
    for key in ("cert_file", "key_file"):
        if not entry.get(key):
            raise doc.error(path + (key,), "is required when tls_server_config is set")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(entry["cert_file"], entry["key_file"])
    except (OSError, ssl.SSLError) as exc:
        raise doc.error(path + ("cert_file",), f"cannot load certificate and key: {exc}") from None
    auth = entry.get("client_auth_type", "NoClientCert")
    if auth not in _CLIENT_AUTH:
        raise doc.error(path + ("client_auth_type",), f"unknown client_auth_type {auth!r}")
    context.verify_mode = _CLIENT_AUTH[auth]
    if entry.get("client_ca_file"):
        try:
            context.load_verify_locations(entry["client_ca_file"])
        except (OSError, ssl.SSLError) as exc:
            raise doc.error(path + ("client_ca_file",), f"cannot load CA: {exc}") from None
    elif context.verify_mode != ssl.CERT_NONE:
        raise doc.error(path + ("client_ca_file",), f"is required with {auth}")
    for key, attribute in (("min_version", "minimum_version"), ("max_version", "maximum_version")):
        if key in entry:
            if entry[key] not in _VERSIONS:
                raise doc.error(path + (key,), f"must be one of {', '.join(_VERSIONS)}")
            setattr(context, attribute, _VERSIONS[entry[key]])
    return context
