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

from cachescope.config.loader import pem_or_der, read_tls_file
from cachescope.config.schema import (
    Node,
    anything,
    mapping_of,
    one_of,
    optional,
    out_of_range,
    record,
    wrong,
)
from cachescope.config.yamlmarks import load_yaml_file
from cachescope.web.basicauth import BasicAuth, CheckBudget, Outcome, hash_cost, hash_problem

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
    root = Node.root(load_yaml_file(filename, "web config file"))
    fields = _ROOT(root)
    tls = fields.get("tls_server_config")
    context = _context(root.at("tls_server_config"), tls) if tls is not None else None
    users = fields.get("basic_auth_users", {})
    if len({hash_cost(h) for h in users.values()}) > 1:
        log.warning(
            "basic_auth_users have different bcrypt costs: unknown user names are checked at "
            "the highest, so users with a lower cost can be told apart by response time"
        )
    return WebConfig(tls=context, users=users)


@dataclasses.dataclass(frozen=True, slots=True)
class _File:
    name: str
    data: bytes


def _file(node: Node) -> _File:
    """The bytes of a TLS file, or a located error: OpenSSL's open() would block on a FIFO."""
    if not isinstance(node.value, str):
        raise wrong(node, "a file name")
    try:
        return _File(node.value, read_tls_file(node.value))
    except ValueError as exc:
        raise node.error(f"cannot read {node.value}: {exc}") from None


def _hash(node: Node) -> bytes:
    problem = hash_problem(node.value)
    if problem:  # the message never repeats the value
        raise node.error(problem)
    return str(node.value).encode()


def _user_problem(user: str) -> str | None:
    # RFC 7617: the user-id ends at the first colon.
    return "a user name cannot contain ':'" if ":" in user else None


_TLS = record(
    {
        "cert_file": _file,
        "key_file": _file,
        "client_ca_file": _file,
        "client_auth_type": one_of(*_CLIENT_AUTH),
        "min_version": one_of(*_VERSIONS),
        "max_version": one_of(*_VERSIONS),
        # Go's TLS settings: accepted for exporter-toolkit compatibility, left to OpenSSL.
        "cipher_suites": anything,
        "curve_preferences": anything,
        "prefer_server_cipher_suites": anything,
    },
    required=("cert_file", "key_file"),
)
_ROOT = optional(
    record(
        {
            "tls_server_config": optional(_TLS),
            "basic_auth_users": mapping_of(_hash, _user_problem),
            "http_server_config": anything,
        }
    ),
    {},
)


def _context(node: Node, fields: dict[str, Any]) -> ssl.SSLContext:
    """The server's SSLContext from checked `tls_server_config` fields."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(fields["cert_file"].name, fields["key_file"].name)
    except (OSError, ssl.SSLError) as exc:
        raise node.at("cert_file").error(f"cannot load certificate and key: {exc}") from None
    _check_versions(node, fields)
    auth = fields.get("client_auth_type", "NoClientCert")
    context.verify_mode = _CLIENT_AUTH[auth]
    if "client_ca_file" in fields:
        try:
            # From the bytes checked above: no second open() that a swapped file could block.
            context.load_verify_locations(cadata=pem_or_der(fields["client_ca_file"].data))
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise node.at("client_ca_file").error(f"cannot load CA: {exc}") from None
    elif context.verify_mode != ssl.CERT_NONE:
        raise node.at("client_ca_file").error(f"is required with {auth}")
    for key, attribute in (("min_version", "minimum_version"), ("max_version", "maximum_version")):
        if key in fields:
            setattr(context, attribute, _VERSIONS[fields[key]])
    return context


def _check_versions(node: Node, fields: dict[str, Any]) -> None:
    """A min_version above max_version leaves no version: every handshake would fail."""
    names = list(_VERSIONS)
    low, high = fields.get("min_version", names[0]), fields.get("max_version", names[-1])
    if names.index(low) > names.index(high):
        between = f"between {names[0]} and {high} (the max_version)"
        raise node.at("min_version").error(out_of_range("a TLS version", between, low))
