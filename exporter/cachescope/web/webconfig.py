"""Protecting the exporter's own endpoint: Prometheus' exporter-toolkit web config.

    tls_server_config:
      cert_file: /etc/cachescope/tls.crt
      key_file: /etc/cachescope/tls.key
      client_auth_type: RequireAndVerifyClientCert   # optional
      client_ca_file: /etc/cachescope/clients-ca.crt
      min_version: TLS12
      cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]   # see tlsoptions.py
      curve_preferences: [X25519]
    http_server_config:
      headers:
        Strict-Transport-Security: max-age=31536000
    basic_auth_users:
      prometheus: $2y$10$...   # bcrypt hash, e.g. from `htpasswd -nBC 10 "" | tr -d ':'`

The same file works for node_exporter and friends, so users reuse what they know.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import ssl
from typing import Any

from cachescope.config.loader import pem_or_der, read_tls_file
from cachescope.config.schema import (
    Node,
    mapping_of,
    one_of,
    optional,
    out_of_range,
    record,
    wrong,
)
from cachescope.config.yamlmarks import load_yaml_file
from cachescope.web import tlsoptions
from cachescope.web.basicauth import BasicAuth, CheckBudget, Outcome, hash_cost, hash_problem

_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
# Go's two modes that take a client certificate without verifying it: OpenSSL
# verifies any certificate it is given, so they would silently be stricter.
_UNVERIFIED = {
    "RequestClientCert": "VerifyClientCertIfGiven",
    "RequireAnyClientCert": "RequireAndVerifyClientCert",
}
# exporter-toolkit's own list of the headers a web config may add, and the values
# it allows where they are an enumeration: the exporter sets the others itself.
_HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}
_VERSIONS = {
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
# exporter-toolkit takes these, but OpenSSL 3 at its default security level
# refuses every TLS 1.0 and 1.1 handshake: a port no client could use.
_REFUSED_VERSIONS = ("TLS10", "TLS11")
log = logging.getLogger(__name__)


@dataclasses.dataclass
class WebConfig:
    tls: ssl.SSLContext | None = None
    users: dict[str, bytes] = dataclasses.field(default_factory=dict)
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    # Where it came from, and the files whose change means it must be read again.
    source: str | None = None
    files: tuple[str, ...] = ()
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
    files = tuple(f.name for key, f in (tls or {}).items() if key.endswith("_file"))
    users = fields.get("basic_auth_users", {})
    if len({hash_cost(h) for h in users.values()}) > 1:
        log.warning(
            "basic_auth_users have different bcrypt costs: unknown user names are checked at "
            "the highest, so users with a lower cost can be told apart by response time"
        )
    headers = fields.get("http_server_config", {}).get("headers", {})
    return WebConfig(tls=context, users=users, headers=headers, source=filename, files=files)


@dataclasses.dataclass(frozen=True, slots=True)
class _File:
    name: str
    data: bytes


def _file(node: Node) -> _File:
    """The bytes of a TLS file, or a located error: OpenSSL's open() would block on a FIFO."""
    if not isinstance(node.value, str):
        raise wrong(node, "a file name")
    # As exporter-toolkit does: relative to the web config's directory, so that a
    # node_exporter web.yml naming `node.crt` works wherever the exporter runs.
    name = os.path.join(os.path.dirname(node.doc.source), node.value)
    try:
        return _File(name, read_tls_file(name))
    except ValueError as exc:
        raise node.error(f"cannot read {name}: {exc}") from None


def _version(node: Node) -> str:
    if node.value in _REFUSED_VERSIONS:
        raise node.error(
            f"{node.value} is not supported: this OpenSSL refuses TLS 1.0 and 1.1 "
            "handshakes, so no client could connect; use TLS12 or TLS13"
        )
    return str(one_of(*_VERSIONS)(node))


def _hash(node: Node) -> bytes:
    problem = hash_problem(node.value)
    if problem:  # the message never repeats the value
        raise node.error(problem)
    return str(node.value).encode()


def _user_problem(user: str) -> str | None:
    # RFC 7617: the user-id ends at the first colon.
    return "a user name cannot contain ':'" if ":" in user else None


def _client_auth(node: Node) -> str:
    if node.value in _UNVERIFIED:
        raise node.error(
            f"{node.value} (a client certificate taken unverified) is not supported: "
            f"OpenSSL verifies what it is given; use {_UNVERIFIED[node.value]}"
        )
    return str(one_of(*_CLIENT_AUTH)(node))


def _header_problem(name: str) -> str | None:
    if name not in _HEADERS:
        return f"header {name!r} cannot be configured: one of {', '.join(_HEADERS)}"
    return None


def _header_value(node: Node) -> str:
    allowed = _HEADERS[str(node.path[-1])]
    if not isinstance(node.value, str | int) or isinstance(node.value, bool):
        raise wrong(node, "a header value")
    value = str(node.value)
    if not value.strip():  # `Header: ""` too: an empty HSTS header is ignored by browsers
        raise node.error("must be a header value, not empty")
    if allowed and value not in allowed:
        raise node.error(f"must be one of {', '.join(allowed)}")
    # A line break would end the header and start another, or the body.
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value) or not value.isascii():
        raise node.error("must be printable ASCII, on one line")
    return value


def _http2(node: Node) -> bool:
    if node.value is not False:
        raise node.error("HTTP/2 is not served (HTTP/1.1 only): remove the key or set it false")
    return False


_TLS = record(
    {
        "cert_file": _file,
        "key_file": _file,
        "client_ca_file": _file,
        "client_auth_type": _client_auth,
        "min_version": _version,
        "max_version": _version,
        "cipher_suites": tlsoptions.cipher_suites,
        "curve_preferences": tlsoptions.curve_preferences,
        "prefer_server_cipher_suites": tlsoptions.prefer_server_cipher_suites,
    },
    required=("cert_file", "key_file"),
)
_ROOT = optional(
    record(
        {
            "tls_server_config": optional(_TLS),
            "basic_auth_users": mapping_of(_hash, _user_problem),
            "http_server_config": optional(
                record({"headers": mapping_of(_header_value, _header_problem), "http2": _http2}),
                {},
            ),
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
    tlsoptions.tune(context, node, fields)
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
