"""exporter-toolkit's TLS tuning keys, as far as Python's ssl (OpenSSL) can honour them.

Go names cipher suites and curves its own way; the tables below map them to
OpenSSL's. What Python cannot do is refused at load, with file, line and key,
never accepted and ignored:

- TLS 1.3 suites are not configurable (Python's ssl has no call for them; Go
  ignores them too): they are accepted, and all three stay enabled.
- Python 3.11's ssl sets one key-exchange group (set_ecdh_curve), not a list:
  `curve_preferences` takes one curve.
"""

from __future__ import annotations

import ssl
from typing import Any

from cachescope.config.schema import Node, wrong

# Go's crypto/tls names (tls.CipherSuites(): the secure ones, which is all
# exporter-toolkit accepts) -> OpenSSL's.
TLS12_SUITES = {
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
}
TLS13_SUITES = frozenset(
    {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"}
)
CURVES = {
    "CurveP256": "prime256v1",
    "CurveP384": "secp384r1",
    "CurveP521": "secp521r1",
    "X25519": "X25519",
}


def _names(node: Node) -> list[str]:
    if not isinstance(node.value, list) or not all(isinstance(v, str) for v in node.value):
        raise wrong(node, "a list of names")
    return list(node.value)


def cipher_suites(node: Node) -> list[str]:
    """OpenSSL's names for the TLS 1.2 suites listed (TLS 1.3 names are accepted, see above)."""
    names = _names(node)
    for index, name in enumerate(names):
        if name not in TLS12_SUITES and name not in TLS13_SUITES:
            raise node.at(index).error(
                f"unknown cipher suite {name!r}: one of Go's secure suites, "
                f"e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
            )
    chosen = [TLS12_SUITES[name] for name in names if name in TLS12_SUITES]
    if not chosen and names:
        raise node.error("lists only TLS 1.3 suites, which are not configurable: remove it")
    return chosen


def curve_preferences(node: Node) -> str | None:
    """OpenSSL's name for the one curve listed."""
    names = _names(node)
    for index, name in enumerate(names):
        if name not in CURVES:
            raise node.at(index).error(f"unknown curve {name!r}: one of {', '.join(CURVES)}")
    if len(names) > 1:
        raise node.error(
            "lists more than one curve: Python's ssl sets one key-exchange group, "
            "so list the one to use"
        )
    return CURVES[names[0]] if names else None


def prefer_server_cipher_suites(node: Node) -> bool:
    if not isinstance(node.value, bool):
        raise wrong(node, "true or false")
    return node.value


def tune(context: ssl.SSLContext, node: Node, fields: dict[str, Any]) -> None:
    """Apply the checked cipher, curve and preference keys to a server context."""
    if fields.get("cipher_suites"):
        try:
            context.set_ciphers(":".join(fields["cipher_suites"]))
        except ssl.SSLError as exc:
            raise node.at("cipher_suites").error(f"OpenSSL refuses them: {exc}") from None
    if fields.get("curve_preferences"):
        try:
            context.set_ecdh_curve(fields["curve_preferences"])
        except (ssl.SSLError, ValueError) as exc:
            raise node.at("curve_preferences").error(f"OpenSSL refuses it: {exc}") from None
    # exporter-toolkit's default is true, as is Go's server behaviour since 1.17.
    if fields.get("prefer_server_cipher_suites", True):
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
