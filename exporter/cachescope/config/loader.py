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
from collections.abc import Callable
from typing import Any

from cachescope.config.allow import AllowRule, parse_network, parse_pattern
from cachescope.config.credentials import Credentials, TLSConfig
from cachescope.config.keyspace import parse_keyspace
from cachescope.config.labelnames import FAMILY_LABELS
from cachescope.config.records import (
    INTERVAL,
    MAX_HISTOGRAM_EVERY,
    TIMEOUT,
    Config,
    DiscoveryConfig,
    RedisOptions,
    TargetConfig,
    search_index_entry,
)
from cachescope.config.schema import (
    Node,
    Schema,
    boolean,
    duration,
    integer,
    list_of,
    mapping_of,
    one_of,
    optional,
    record,
    shorthand,
    text,
    via,
)
from cachescope.config.targets import Secret, parse_uri
from cachescope.config.yamlmarks import MarkedYAML, load_yaml_file, read_regular_file

# The system CA bundle is about 200 KiB; a file many times that is a wrong path.
MAX_TLS_FILE_BYTES = 4 << 20
# A password is a line, not a document; more is a wrong path (or /dev/zero).
MAX_PASSWORD_FILE_BYTES = 64 << 10
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


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


def _file(read: Callable[[str], object], what: str) -> Schema:
    """What `read` makes of the named file; the error names the file, never its content."""

    def check(node: Node) -> object:
        name = text(node)
        try:
            return read(name)
        except ValueError as exc:
            raise node.error(f"cannot read {what}{name}: {exc}") from None

    return check


def _tls_file(name: str) -> str:
    """The name of a TLS file that reads: OpenSSL opens it again at connect."""
    read_tls_file(name)
    return name


def _password_env(name: str) -> Secret:
    if name not in os.environ:
        raise ValueError(f"environment variable {name} is not set")
    return Secret(os.environ[name])


def _label_problem(name: str) -> str | None:
    if not _LABEL_NAME.match(name) or name.startswith("__"):
        return f"{name!r} is not a usable label name"
    if name in FAMILY_LABELS:
        return f"{name!r} is not a usable label name: cachescope's own series carry it"
    return None


_TLS_FILE = _file(_tls_file, "")
_TLS = record(
    {
        "ca_file": _TLS_FILE,
        "cert_file": _TLS_FILE,
        "key_file": _TLS_FILE,
        "server_name": text,
        "insecure_skip_verify": boolean,
    }
)
_CREDENTIALS = {
    "username": text,
    "password": via(Secret),
    "password_file": _file(read_password_file, "password file "),
    "password_env": via(_password_env),
    "tls": lambda node: TLSConfig(**_TLS(node)),
    "timeout": duration(TIMEOUT),
}
_DISCOVER = shorthand(
    "kind",
    record(
        {
            "kind": one_of("cluster", "sentinel"),
            "master_sets": list_of(text),
            "interval": duration(INTERVAL),
            "nodes": optional(record(_CREDENTIALS), {}),
            "allow": list_of(via(parse_network), single=True),
        },
        required=("kind",),
    ),
)
_TARGET = shorthand(
    "uri",
    record(
        {
            **_CREDENTIALS,
            "uri": via(parse_uri),
            "name": text,
            "labels": mapping_of(text, _label_problem),
            "config_command": text,
            "discover": _DISCOVER,
            "keyspace": parse_keyspace,
            "slab_metrics": boolean,
            "append_instance_role_label": boolean,
            "client_breakdown": boolean,
            "latency_histograms": boolean,
            "latency_histograms_every": integer(1, MAX_HISTOGRAM_EVERY),
            "search_indexes": list_of(via(search_index_entry), single=True),
        },
        required=("uri",),
    ),
)
_ALLOW = record({**_CREDENTIALS, "pattern": via(parse_pattern)}, required=("pattern",))
_ROOT = optional(
    record(
        {
            "defaults": optional(record(_CREDENTIALS), {}),
            "targets": list_of(_TARGET),
            "scrape": optional(record({"allow": list_of(_ALLOW)}), {}),
        }
    ),
    {},
)


def load_config(filename: str, slab_metrics: bool = True) -> Config:
    """Read and validate a config file; raise ConfigError naming file, line and field.

    `slab_metrics` (--memcached.slab-metrics) is the default of the targets' field.
    """
    return _parse(load_yaml_file(filename), slab_metrics)


def parse_config(text: str | bytes, source: str = "<config>", slab_metrics: bool = True) -> Config:
    """Validate the text of a config file."""
    return _parse(MarkedYAML(text, source), slab_metrics)


def _parse(doc: MarkedYAML, slab_metrics: bool) -> Config:
    root = Node.root(doc)
    fields = _ROOT(root)
    defaults = _credentials(fields.get("defaults", {}), Credentials())
    targets = [
        _target(root.at("targets").at(i), entry, defaults, slab_metrics)
        for i, entry in enumerate(fields.get("targets", []))
    ]
    _check_unique_names(root.at("targets"), targets)
    # An allow rule takes the defaults' timeout and TLS settings, but credentials
    # only from its own entry: a password goes only where it was configured for.
    base = dataclasses.replace(defaults, username=None, password=None)
    allow = [
        AllowRule(entry["pattern"], _credentials(entry, base))
        for entry in fields.get("scrape", {}).get("allow", [])
    ]
    return Config(targets=targets, allow=allow, source=doc.source, slab_metrics=slab_metrics)


def _credentials(fields: dict[str, Any], base: Credentials) -> Credentials:
    """`base` with what `fields` set; password_env wins over password_file over password."""
    password = fields.get("password", base.password)
    password = fields.get("password_env", fields.get("password_file", password))
    return Credentials(
        username=fields.get("username", base.username),
        password=password,
        tls=fields.get("tls", base.tls),
        timeout=fields.get("timeout", base.timeout),
    )


def _target(
    node: Node, fields: dict[str, Any], defaults: Credentials, slab_metrics: bool
) -> TargetConfig:
    endpoint = fields["uri"]
    if endpoint.kind == "memcached":
        # The defaults' user and password are Redis' (as the --redis.* flags are): a
        # Memcached target logs in only with what its own entry or URI gives it.
        defaults = dataclasses.replace(defaults, username=None, password=None)
    base = dataclasses.replace(
        defaults,
        username=endpoint.username or defaults.username,
        password=endpoint.password or defaults.password,
    )
    credentials = _credentials(fields, base)
    discovery = None
    if "discover" in fields:
        discovery = _discovery(node.at("discover"), fields["discover"], credentials)
    keyspace = fields.get("keyspace")
    if keyspace is not None and endpoint.kind != "redis":
        raise node.at("keyspace").error("keyspace sampling is for Redis targets")
    if "slab_metrics" in fields and endpoint.kind != "memcached":
        raise node.at("slab_metrics").error("slab_metrics is for Memcached targets")
    return TargetConfig(
        redis=_redis_options(node, fields, endpoint.kind),
        endpoint=endpoint,
        name=fields.get("name", endpoint.default_name()),
        labels=tuple(sorted(fields.get("labels", {}).items())),
        credentials=credentials,
        config_command=fields.get("config_command", "CONFIG"),
        discovery=discovery,
        keyspace=keyspace,
        slab_metrics=fields.get("slab_metrics", slab_metrics),
    )


def _redis_options(node: Node, fields: dict[str, Any], kind: str) -> RedisOptions:
    """The target's opt-in Redis extras; set on a Memcached target, a located error."""
    options = RedisOptions(
        append_instance_role_label=fields.get("append_instance_role_label", False),
        client_breakdown=fields.get("client_breakdown", False),
        search_indexes=tuple(fields.get("search_indexes", ())),
        latency_histograms=fields.get("latency_histograms", True),
        latency_histograms_every=fields.get("latency_histograms_every", 1),
    )
    for field in ("latency_histograms", "latency_histograms_every"):
        if field in fields and kind != "redis":
            raise node.at(field).error(f"{field} is for Redis targets")
    for field in ("append_instance_role_label", "client_breakdown", "search_indexes"):
        if getattr(options, field) and kind != "redis":
            raise node.at(field).error(f"{field} is for Redis targets")
    return options


def _discovery(node: Node, fields: dict[str, Any], base: Credentials) -> DiscoveryConfig:
    """`discover: cluster`, or a mapping with kind, master_sets, interval and nodes."""
    sets = fields.get("master_sets", [])
    if sets and fields["kind"] != "sentinel":
        raise node.at("master_sets").error("master_sets is for sentinel discovery only")
    nodes = _credentials(fields["nodes"], base) if "nodes" in fields else None
    allow = tuple(fields["allow"]) if "allow" in fields else None
    interval = fields.get("interval", 30.0)
    return DiscoveryConfig(
        kind=fields["kind"],
        master_sets=tuple(sets),
        node_credentials=nodes,
        interval=interval,
        allow=allow,
    )


def _check_unique_names(node: Node, targets: list[TargetConfig]) -> None:
    seen: set[str] = set()
    for i, target in enumerate(targets):
        if target.name in seen:
            raise node.at(i).at("name").error(f"duplicate target name {target.name!r}")
        seen.add(target.name)
