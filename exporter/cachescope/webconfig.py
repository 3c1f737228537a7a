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

import dataclasses
import logging
import ssl
from typing import Any

from cachescope.basicauth import BasicAuth, CheckBudget, Outcome, hash_cost, hash_problem
from cachescope.config import pem_or_der, read_tls_file
from cachescope.yamlmarks import MarkedYAML, Path, load_yaml_file

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
log = logging.getLogger(__name__)


@dataclasses.dataclass
class WebConfig:
    tls: ssl.SSLContext | None = None
    users: dict[str, bytes] = dataclasses.field(default_factory=dict)
    budget: CheckBudget = dataclasses.field(default_factory=CheckBudget)
    _auth: BasicAuth = dataclasses.field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._auth = BasicAuth(self.users, self.budget)

    @property
    def dummy_hash(self) -> bytes:
        """The hash unknown user names are checked against (its cost is the highest set)."""
        return self._auth.dummy_hash

    def authorized(self, header: str | None) -> bool:
        """Check an Authorization header; always true when no users are configured."""
        return self._auth.check(header) is Outcome.OK

    def check(self, header: str | None) -> Outcome:
        """Like authorized(), but tells a refusal from THROTTLED (answer 429 or 503 then)."""
        return self._auth.check(header)


def load_web_config(filename: str) -> WebConfig:
    """Read a web config file; raise ConfigError naming file, line and field."""
    doc = load_yaml_file(filename, "web config file")
    root = _mapping(
        doc, doc.data, (), {"tls_server_config", "basic_auth_users", "http_server_config"}
    )
    tls = (
        _tls(doc, root["tls_server_config"]) if root.get("tls_server_config") is not None else None
    )
    return WebConfig(tls=tls, users=_users(doc, root.get("basic_auth_users")))


def _users(doc: MarkedYAML, value: Any) -> dict[str, bytes]:
    users: dict[str, bytes] = {}
    for user, hashed in _mapping(doc, value, ("basic_auth_users",), None).items():
        path: Path = ("basic_auth_users", user)
        if ":" in user:  # RFC 7617: the user-id ends at the first colon
            raise doc.error(path, "a user name cannot contain ':'")
        problem = hash_problem(hashed)
        if problem:  # the message never repeats the value
            raise doc.error(path, problem)
        users[user] = hashed.encode()
    if len({hash_cost(h) for h in users.values()}) > 1:
        log.warning(
            "basic_auth_users have different bcrypt costs: unknown user names are checked at "
            "the highest, so users with a lower cost can be told apart by response time"
        )
    return users


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
    files = {
        key: _check_file(doc, entry[key], path + (key,))
        for key in ("cert_file", "key_file", "client_ca_file")
        if entry.get(key)
    }
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
            # From the bytes checked above: no second open() that a swapped file could block.
            context.load_verify_locations(cadata=pem_or_der(files["client_ca_file"]))
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise doc.error(path + ("client_ca_file",), f"cannot load CA: {exc}") from None
    elif context.verify_mode != ssl.CERT_NONE:
        raise doc.error(path + ("client_ca_file",), f"is required with {auth}")
    for key, attribute in (("min_version", "minimum_version"), ("max_version", "maximum_version")):
        if key in entry:
            if entry[key] not in _VERSIONS:
                raise doc.error(path + (key,), f"must be one of {', '.join(_VERSIONS)}")
            setattr(context, attribute, _VERSIONS[entry[key]])
    return context


def _check_file(doc: MarkedYAML, value: Any, path: Path) -> bytes:
    """The bytes of a TLS file, or a located error: OpenSSL's open() would block on a FIFO."""
    if not isinstance(value, str):
        raise doc.error(path, "must be a file name")
    try:
        return read_tls_file(value)
    except ValueError as exc:
        raise doc.error(path, f"cannot read {value}: {exc}") from None
