"""Configuration: the YAML file, validated once, into plain dataclasses.

targets:
  - uri: redis://cache-a:6379
    name: cache-a
    labels: {team: payments}
    password_file: /run/secrets/cache-a
    timeout: 2s
scrape:
  allow:
    - pattern: "redis://10.0.0.0/8:*"
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

from cachescope.allow import AllowRule, Network, parse_network, parse_pattern
from cachescope.configtypes import (
    DEFAULT_LISTEN_ADDRESS,
    DEFAULT_TARGET,
    DEFAULT_TIMEOUT,
    INTERVAL,
    TIMEOUT,
    Config,
    Credentials,
    DiscoveryConfig,
    TargetConfig,
    TLSConfig,
    parse_duration,
    target_from_uri,
)
from cachescope.keyspace.settings import parse_keyspace
from cachescope.targets import Secret, parse_uri
from cachescope.yamlmarks import (
    ConfigError,
    MarkedYAML,
    Path,
    load_yaml_file,
    read_regular_file,
)

# The types live in configtypes.py; the rest of the package imports them from here.
__all__ = [
    "DEFAULT_LISTEN_ADDRESS",
    "DEFAULT_TARGET",
    "DEFAULT_TIMEOUT",
    "INTERVAL",
    "TIMEOUT",
    "Config",
    "ConfigError",
    "Credentials",
    "DiscoveryConfig",
    "TLSConfig",
    "TargetConfig",
    "load_config",
    "parse_config",
    "parse_duration",
    "pem_or_der",
    "read_password_file",
    "read_tls_file",
    "target_from_uri",
]

_CREDENTIAL_KEYS = {"username", "password", "password_file", "password_env", "tls", "timeout"}
_TARGET_KEYS = _CREDENTIAL_KEYS | {
    "uri",
    "name",
    "labels",
    "config_command",
    "discover",
    "keyspace",
}
_DISCOVER_KEYS = {"kind", "master_sets", "interval", "nodes", "allow"}
_TLS_KEYS = {"ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify"}
# The system CA bundle is about 200 KiB; a file many times that is a wrong path.
MAX_TLS_FILE_BYTES = 4 << 20
# A password is a line, not a document; more is a wrong path (or /dev/zero).
MAX_PASSWORD_FILE_BYTES = 64 << 10
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Label names our metrics use themselves; a target label of the same name would
# make a sample carry one label twice, which Prometheus rejects.
_RESERVED_LABELS = {
    "instance",
    "job",
    "cluster",
    "master_set",
    "cmd",
    "db",
    "err",
    "error",
    "quantile",
    "event_name",
    "role",
    "slave_ip",
    "slave_port",
    "slave_state",
    "master_host",
    "master_port",
    "read_only",
    "command",
    "status",
    "slab",
    "lru",
    "version",
    "python_version",
}


class _Reader:
    """Typed access to a MarkedYAML document, raising located ConfigErrors."""

    def __init__(self, doc: MarkedYAML) -> None:
        self.doc = doc

    def mapping(self, value: Any, path: Path, allowed: set[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.doc.error(path, f"must be a mapping, got {type(value).__name__}")
        for key in value:
            if key not in allowed:
                known = ", ".join(sorted(allowed))
                raise self.doc.error(path + (key,), f"unknown field (known: {known})")
        return value

    def string(self, value: Any, path: Path) -> str:
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise self.doc.error(path, f"must be a string, got {type(value).__name__}")
        return str(value)

    def credentials(self, entry: dict[str, Any], path: Path, base: Credentials) -> Credentials:
        password = base.password
        if "password" in entry:
            password = Secret(self.string(entry["password"], path + ("password",)))
        if "password_file" in entry:
            password = self._password_file(entry["password_file"], path + ("password_file",))
        if "password_env" in entry:
            name = self.string(entry["password_env"], path + ("password_env",))
            if name not in os.environ:
                raise self.doc.error(
                    path + ("password_env",), f"environment variable {name} is not set"
                )
            password = Secret(os.environ[name])
        timeout = base.timeout
        if "timeout" in entry:
            try:
                timeout = parse_duration(entry["timeout"], TIMEOUT)
            except ValueError as exc:
                raise self.doc.error(path + ("timeout",), str(exc)) from None
        username = base.username
        if "username" in entry:
            username = self.string(entry["username"], path + ("username",))
        tls = self._tls(entry["tls"], path + ("tls",)) if "tls" in entry else base.tls
        return Credentials(username, password, tls, timeout)

    def _password_file(self, value: Any, path: Path) -> Secret:
        filename = self.string(value, path)
        try:
            return read_password_file(filename)
        except ValueError as exc:
            raise self.doc.error(path, f"cannot read password file {filename}: {exc}") from None

    def _tls(self, value: Any, path: Path) -> TLSConfig:
        entry = self.mapping(value, path, _TLS_KEYS)
        files = {}
        for key in ("ca_file", "cert_file", "key_file"):
            if key in entry:
                files[key] = self.string(entry[key], path + (key,))
                try:
                    read_tls_file(files[key])
                except ValueError as exc:
                    raise self.doc.error(
                        path + (key,), f"cannot read {files[key]}: {exc}"
                    ) from None
        skip = entry.get("insecure_skip_verify", False)
        if not isinstance(skip, bool):
            raise self.doc.error(path + ("insecure_skip_verify",), "must be true or false")
        name = (
            self.string(entry["server_name"], path + ("server_name",))
            if "server_name" in entry
            else None
        )
        return TLSConfig(server_name=name, insecure_skip_verify=skip, **files)

    def labels(self, value: Any, path: Path) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, dict):
            raise self.doc.error(path, "must be a mapping of label names to values")
        for key in value:
            if not _LABEL_NAME.match(key) or key.startswith("__") or key in _RESERVED_LABELS:
                raise self.doc.error(path + (key,), f"{key!r} is not a usable label name")
        return tuple(sorted((k, self.string(v, path + (k,))) for k, v in value.items()))


def read_password_file(filename: str) -> Secret:
    """A password from a small regular file; ValueError (never the content) otherwise."""
    data = read_regular_file(filename, MAX_PASSWORD_FILE_BYTES)
    try:
        return Secret(data.decode("utf-8").strip())
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None


def read_tls_file(filename: str) -> bytes:
    """A certificate, key or CA bundle from a small regular file; ValueError otherwise.

    Checked at load so that a FIFO, a directory or /dev/zero is a located error there
    rather than a scrape (or the start) blocked in OpenSSL's own open().
    """
    return read_regular_file(filename, MAX_TLS_FILE_BYTES)


def pem_or_der(data: bytes) -> str | bytes:
    """A CA bundle as SSLContext's cadata takes it: PEM as text, DER as bytes."""
    return data.decode("ascii", "replace") if b"-----BEGIN" in data else data


def load_config(filename: str) -> Config:
    """Read and validate a config file; raise ConfigError naming file, line and field."""
    return _parse(load_yaml_file(filename))


def parse_config(text: str | bytes, source: str = "<config>") -> Config:
    """Validate the text of a config file."""
    return _parse(MarkedYAML(text, source))


def _parse(doc: MarkedYAML) -> Config:
    source = doc.source
    reader = _Reader(doc)
    root = reader.mapping(doc.data, (), {"defaults", "targets", "scrape"})
    defaults = reader.credentials(
        reader.mapping(root.get("defaults"), ("defaults",), _CREDENTIAL_KEYS),
        ("defaults",),
        Credentials(),
    )
    raw_targets = root.get("targets") or []
    if not isinstance(raw_targets, list):
        raise doc.error(("targets",), "must be a list of targets")
    targets = [
        _target(reader, entry, ("targets", i), defaults) for i, entry in enumerate(raw_targets)
    ]
    _check_unique_names(doc, targets)
    scrape = reader.mapping(root.get("scrape"), ("scrape",), {"allow"})
    allow = []
    for i, entry in enumerate(scrape.get("allow") or []):
        path: Path = ("scrape", "allow", i)
        entry = reader.mapping(entry, path, _CREDENTIAL_KEYS | {"pattern"})
        if "pattern" not in entry:
            raise doc.error(path, "missing required field 'pattern'")
        try:
            pattern = parse_pattern(reader.string(entry["pattern"], path + ("pattern",)))
        except ValueError as exc:
            raise doc.error(path + ("pattern",), str(exc)) from None
        # An allow rule takes the defaults' timeout and TLS settings, but credentials
        # only from its own entry: a password goes only where it was configured for.
        base = dataclasses.replace(defaults, username=None, password=None)
        allow.append(AllowRule(pattern, reader.credentials(entry, path, base)))
    return Config(targets=targets, allow=allow, source=source)


def _target(reader: _Reader, entry: Any, path: Path, defaults: Credentials) -> TargetConfig:
    if isinstance(entry, str):
        entry = {"uri": entry}
    entry = reader.mapping(entry, path, _TARGET_KEYS)
    if "uri" not in entry:
        raise reader.doc.error(path, "missing required field 'uri'")
    try:
        endpoint = parse_uri(reader.string(entry["uri"], path + ("uri",)))
    except ValueError as exc:
        raise reader.doc.error(path + ("uri",), str(exc)) from None
    base = dataclasses.replace(
        defaults,
        username=endpoint.username or defaults.username,
        password=endpoint.password or defaults.password,
    )
    credentials = reader.credentials(entry, path, base)
    name = reader.string(entry.get("name", endpoint.address()), path + ("name",))
    labels = reader.labels(entry["labels"], path + ("labels",)) if "labels" in entry else ()
    config_command = reader.string(
        entry.get("config_command", "CONFIG"), path + ("config_command",)
    )
    discovery = None
    if "discover" in entry:
        discovery = _discovery(reader, entry["discover"], path + ("discover",), credentials)
    keyspace = None
    if entry.get("keyspace"):
        keyspace = parse_keyspace(
            entry["keyspace"], path + ("keyspace",), reader.doc.error, parse_duration
        )
        if endpoint.kind != "redis":
            raise reader.doc.error(path + ("keyspace",), "keyspace sampling is for Redis targets")
    return TargetConfig(endpoint, name, labels, credentials, config_command, discovery, keyspace)


def _discovery(reader: _Reader, value: Any, path: Path, base: Credentials) -> DiscoveryConfig:
    """`discover: cluster`, or a mapping with kind, master_sets, interval and nodes."""
    entry = reader.mapping(
        {"kind": value} if isinstance(value, str) else value, path, _DISCOVER_KEYS
    )
    kind = entry.get("kind")
    if kind not in ("cluster", "sentinel"):
        raise reader.doc.error(path, f"discover must be 'cluster' or 'sentinel', got {kind!r}")
    sets = entry.get("master_sets", [])
    if not isinstance(sets, list) or kind != "sentinel" and sets:
        raise reader.doc.error(path + ("master_sets",), "a list of names, for sentinel only")
    interval = 30.0
    if "interval" in entry:
        try:
            interval = parse_duration(entry["interval"], INTERVAL)
        except ValueError as exc:
            raise reader.doc.error(path + ("interval",), str(exc)) from None
    nodes = None
    if "nodes" in entry:
        nodes_path = path + ("nodes",)
        nodes = reader.credentials(
            reader.mapping(entry["nodes"], nodes_path, _CREDENTIAL_KEYS), nodes_path, base
        )
    master_sets = tuple(
        reader.string(name, path + ("master_sets", i)) for i, name in enumerate(sets)
    )
    allow = _networks(reader, entry["allow"], path + ("allow",)) if "allow" in entry else None
    return DiscoveryConfig(kind, master_sets, nodes, interval, allow)


def _networks(reader: _Reader, value: Any, path: Path) -> tuple[Network, ...]:
    """discover.allow: the CIDRs whose discovered nodes get the credentials."""
    networks = []
    for i, item in enumerate(value if isinstance(value, list) else [value]):
        text = reader.string(item, path + (i,))
        try:
            networks.append(parse_network(text))
        except ValueError as exc:
            raise reader.doc.error(path + (i,), str(exc)) from None
    return tuple(networks)


def _check_unique_names(doc: MarkedYAML, targets: list[TargetConfig]) -> None:
    seen: set[str] = set()
    for i, target in enumerate(targets):
        if target.name in seen:
            raise doc.error(("targets", i, "name"), f"duplicate target name {target.name!r}")
        seen.add(target.name)
