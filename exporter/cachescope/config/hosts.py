"""Host names and IP literals: one canonical spelling, or a refusal that echoes nothing.

A host is validated once, when a URI is parsed, and the canonical text is what
allow patterns match and what the socket connects to. Anything a resolver reads
differently from a matcher is refused here: a NUL or a control character (the C
resolver stops at a NUL), an IP in a legacy spelling (`127.1`, `0x7f000001`,
`0177.0.0.1`, which inet_aton accepts), an unspecified or IPv4-mapped address.
Error messages never repeat the host: a password with a `/` in a URI ends up
where the host is read.
"""

from __future__ import annotations

import ipaddress
import re
import socket

# A DNS label as RFC 1123 has it, plus `_` (seen in container and SRV names).
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC = re.compile(r"(?:[0-9]+|0x[0-9a-f]*)")
_MAX_NAME = 253

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def dns_label(text: str) -> str:
    """One label, lower-cased and IDNA-encoded; ValueError if it is not a valid label."""
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(
                "host has a label that is not a valid internationalised name"
            ) from None
        if "." in text:  # nameprep mapped a look-alike dot (U+3002, U+FF0E) into a real one
            raise ValueError("host has a label with a look-alike of '.'")
    text = text.lower()
    if not _LABEL.fullmatch(text):
        raise ValueError(
            "host is not a valid DNS name (letters, digits, '-' and '_' in labels of 1-63,"
            " no spaces, control characters or percent-encoding)"
        )
    return text


def check_ip(address: IPAddress) -> IPAddress:
    """Refuse addresses that reach something other than what they spell."""
    if address.is_unspecified:
        raise ValueError("host is an unspecified address (0.0.0.0 or ::), which means this host")
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            raise ValueError("host is an IPv4-mapped IPv6 address; write the IPv4 address")
        if address.scope_id:
            raise ValueError("host has an IPv6 zone; zones are not supported")
    return address


def canonical_ip(text: str) -> str | None:
    """The compressed form of an IP literal (IPv6 without brackets), None if it is no IP."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return str(check_ip(address))


def canonical_host(text: str, bracketed: bool = False) -> str:
    """The one spelling of a host that is matched and connected to."""
    if bracketed:
        if ":" not in text or (ip := canonical_ip(text)) is None:
            raise ValueError("host in brackets is not an IPv6 address")
        return ip
    if ":" not in text and (ip := canonical_ip(text)) is not None:
        return ip
    if not text or len(text) > _MAX_NAME * 4:
        raise ValueError("host is empty or too long")
    name = ".".join(dns_label(label) for label in text.split("."))
    if len(name) > _MAX_NAME:
        raise ValueError("host name is longer than 253 characters")
    if _NUMERIC.fullmatch(name.rsplit(".", 1)[-1]) or _inet_aton_accepts(name):
        raise ValueError(
            "host looks like an IP address in a non-standard spelling; write it as a.b.c.d"
        )
    return name


def _inet_aton_accepts(name: str) -> bool:
    """Whether the C resolver would read `name` as an IPv4 address."""
    try:
        socket.inet_aton(name)
    except OSError:
        return False
    return True


def is_ip(host: str) -> bool:
    """Whether a canonical host is an IP literal."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
