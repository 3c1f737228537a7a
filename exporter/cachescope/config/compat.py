"""redis_exporter's and memcached_exporter's flags and variables, and what each does here.

One row per flag of the two peers. A row either names the `serve` option it is (an
alias: click takes its name and variable as the option's own), says how its value
becomes `serve` options, or says why cachescope does not need it. `compatargs.py`
reads command lines and environments through this table; docs/migrating.md and
the tests walk it, so a new row is documented and tested where it is added.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

REDIS = "redis_exporter"
MEMCACHED = "memcached_exporter"
_R = "REDIS_EXPORTER_"

ToArgs = Callable[[str], tuple[str, ...]]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CompatFlag:
    """One flag of a peer exporter, and what cachescope makes of it."""

    name: str  # as the peer spells it, without dashes
    peer: str
    env: str = ""  # the peer's environment variable, if it reads one
    option: str = ""  # the serve option it is (alias) or becomes (to_args)
    to_args: ToArgs | None = None  # its value as serve arguments; ValueError: refused
    boolean: bool = False  # a Go bool flag: bare means true, a value only after "="
    same: tuple[str, ...] = ()  # values that are what cachescope does anyway
    note: str = ""  # what it does here, or why it is refused and what to use

    @property
    def alias(self) -> bool:
        """Another name (and variable) of a serve option, with the same values."""
        return bool(self.option) and self.to_args is None

    @property
    def refused(self) -> bool:
        """Refused whatever its value."""
        return not self.option and not self.same


def _alias(name: str, option: str, env: str = "", peer: str = REDIS) -> CompatFlag:
    return CompatFlag(name=name, peer=peer, env=env, option=option, note=f"same as {option}")


def _switch(option: str) -> ToArgs:
    """A Go boolean as a click flag: present when true."""
    return lambda value: (option,) if go_bool(value) else ()


def _log_format(value: str) -> tuple[str, ...]:
    formats = {"txt": "logfmt", "logfmt": "logfmt", "json": "json"}
    if value.lower() not in formats:
        raise ValueError("takes txt or json")
    return (f"--log.format={formats[value.lower()]}",)


def _memcached(value: str) -> tuple[str, ...]:
    if not value.strip():
        raise ValueError("needs an address, host:port")
    return (f"--target=memcached://{value.strip()}",)


_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def go_bool(value: str) -> bool:
    """A boolean as Go's strconv.ParseBool reads it; ValueError otherwise."""
    if value in _GO_TRUE or value in _GO_FALSE:
        return value in _GO_TRUE
    raise ValueError("takes true or false")


_EITHER = ("true", "false")


def _no(
    name: str, env: str, note: str, *, boolean: bool = False, same: str | tuple[str, ...] = ()
) -> CompatFlag:
    """A redis_exporter flag cachescope has no option for; `same`: the values it accepts."""
    values = (same,) if isinstance(same, str) else same
    return CompatFlag(name=name, peer=REDIS, env=env, boolean=boolean, same=values, note=note)


_CONFIG = "a target's settings in --config.file (README, Configuration)"
_KEYSPACE = "the target's `keyspace:` settings in --config.file (README, Keyspace insight)"
_WEBCONFIG = "--web.config.file (exporter-toolkit's web config: TLS and basic auth)"
_PROCESS = "cachescope exports process_* and python_* metrics of itself on /metrics"

REDIS_FLAGS: tuple[CompatFlag, ...] = (
    _alias("redis.addr", "--target", "REDIS_ADDR"),
    _alias("redis.user", "--redis.user", "REDIS_USER"),
    _alias("redis.password", "--redis.password", "REDIS_PASSWORD"),
    _alias("redis.password-file", "--redis.password-file", "REDIS_PASSWORD_FILE"),
    _alias("web.listen-address", "--web.listen-address", _R + "WEB_LISTEN_ADDRESS"),
    _alias("web.telemetry-path", "--web.telemetry-path", _R + "WEB_TELEMETRY_PATH"),
    _alias("connection-timeout", "--timeout", _R + "CONNECTION_TIMEOUT"),
    _alias("config-command", "--redis.config-command", _R + "CONFIG_COMMAND"),
    _alias("tls-client-key-file", "--tls.key-file", _R + "TLS_CLIENT_KEY_FILE"),
    _alias("tls-client-cert-file", "--tls.cert-file", _R + "TLS_CLIENT_CERT_FILE"),
    _alias("tls-ca-cert-file", "--tls.ca-file", _R + "TLS_CA_CERT_FILE"),
    _alias("tls-server-name", "--tls.server-name", _R + "TLS_SERVER_NAME"),
    _alias("log-level", "--log.level", _R + "LOG_LEVEL"),
    CompatFlag(
        name="log-format",
        peer=REDIS,
        env=_R + "LOG_FORMAT",
        option="--log.format",
        to_args=_log_format,
        note="--log.format (txt is logfmt)",
    ),
    CompatFlag(
        name="debug",
        peer=REDIS,
        env=_R + "DEBUG",
        option="--log.level",
        boolean=True,
        to_args=lambda value: ("--log.level=debug",) if go_bool(value) else (),
        note="--log.level=debug",
    ),
    CompatFlag(
        name="skip-tls-verification",
        peer=REDIS,
        env=_R + "SKIP_TLS_VERIFICATION",
        option="--tls.insecure-skip-verify",
        boolean=True,
        to_args=_switch("--tls.insecure-skip-verify"),
        note="--tls.insecure-skip-verify",
    ),
    CompatFlag(
        name="append-instance-role-label",
        peer=REDIS,
        env=_R + "APPEND_INSTANCE_ROLE_LABEL",
        option="--redis.role-label",
        boolean=True,
        to_args=_switch("--redis.role-label"),
        note="--redis.role-label",
    ),
    CompatFlag(
        name="export-client-list",
        peer=REDIS,
        env=_R + "EXPORT_CLIENT_LIST",
        option="--redis.client-breakdown",
        boolean=True,
        to_args=_switch("--redis.client-breakdown"),
        note="--redis.client-breakdown (bounded: by client name, address family and idle time)",
    ),
    _no(
        "namespace",
        _R + "NAMESPACE",
        "it would rename every series, and the shipped rules and dashboards read the "
        "redis_* names; rename at ingestion with metric_relabel_configs if you must",
        same="redis",
    ),
    _no(
        "is-cluster",
        _R + "IS_CLUSTER",
        "not needed: cachescope reads cluster_enabled itself; to scrape every node, give the "
        "seed `discovery: cluster` in " + _CONFIG,
        boolean=True,
        same=_EITHER,
    ),
    _no(
        "set-client-name",
        _R + "SET_CLIENT_NAME",
        "cachescope always names its connection `cachescope` (skipped where an ACL forbids "
        "CLIENT SETNAME)",
        boolean=True,
        same="true",
    ),
    _no(
        "ping-on-connect",
        _R + "PING_ON_CONNECT",
        "not needed: a connection that fails shows as *_up 0 with error=connect or auth",
        boolean=True,
        same=_EITHER,
    ),
    _no(
        "include-system-metrics",
        _R + "INCL_SYSTEM_METRICS",
        "redis_total_system_memory_bytes is always exported (RedisRssNearSystemMemory reads it)",
        boolean=True,
        same=_EITHER,
    ),
    _no(
        "redact-config-metrics",
        _R + "REDACT_CONFIG_METRICS",
        "cachescope exports only numeric CONFIG settings (redis_config_*), never a secret",
        boolean=True,
        same="true",
    ),
    _no(
        "include-config-metrics",
        _R + "INCL_CONFIG_METRICS",
        "every CONFIG setting as a series is not offered; redis_config_maxmemory and the "
        "other settings the rules read are always exported",
        boolean=True,
        same="false",
    ),
    _no("check-keys", _R + "CHECK_KEYS", "key patterns are sampled as `groups` in " + _KEYSPACE),
    _no("check-single-keys", _R + "CHECK_SINGLE_KEYS", "use `check_keys` in " + _KEYSPACE),
    _no(
        "check-key-groups", _R + "CHECK_KEY_GROUPS", "use `groups` (glob patterns) in " + _KEYSPACE
    ),
    _no(
        "max-distinct-key-groups",
        _R + "MAX_DISTINCT_KEY_GROUPS",
        "use `max_groups` in " + _KEYSPACE,
    ),
    _no("check-streams", _R + "CHECK_STREAMS", "list the streams under `streams` in " + _KEYSPACE),
    _no("check-single-streams", _R + "CHECK_SINGLE_STREAMS", "use `streams` in " + _KEYSPACE),
    _no(
        "streams-exclude-consumer-metrics",
        _R + "STREAMS_EXCLUDE_CONSUMER_METRICS",
        "cachescope exports no per-consumer stream series (only per group)",
        boolean=True,
        same=_EITHER,
    ),
    _no("count-keys", _R + "COUNT_KEYS", "use `groups` in " + _KEYSPACE),
    _no(
        "check-keys-batch-size",
        _R + "CHECK_KEYS_BATCH_SIZE",
        "use `scan_count` and `commands_per_second` in " + _KEYSPACE,
    ),
    _no(
        "disable-exporting-key-values",
        _R + "DISABLE_EXPORTING_KEY_VALUES",
        "cachescope never exports key values as labels",
        boolean=True,
        same="true",
    ),
    _no(
        "skip-checkkeys-for-role-master",
        _R + "SKIP_CHECKKEYS_FOR_ROLE_MASTER",
        "use `prefer_replica: true` in " + _KEYSPACE,
        boolean=True,
        same="false",
    ),
    _no("script", _R + "SCRIPT", "Lua scripts are not run: cachescope only reads"),
    _no(
        "lua-script-read-only",
        _R + "LUA_SCRIPT_READ_ONLY",
        "Lua scripts are not run: cachescope only reads",
        boolean=True,
        same="false",
    ),
    _no("tls-server-key-file", _R + "TLS_SERVER_KEY_FILE", "use " + _WEBCONFIG),
    _no("tls-server-cert-file", _R + "TLS_SERVER_CERT_FILE", "use " + _WEBCONFIG),
    _no("tls-server-ca-cert-file", _R + "TLS_SERVER_CA_CERT_FILE", "use " + _WEBCONFIG),
    _no("tls-server-min-version", _R + "TLS_SERVER_MIN_VERSION", "use " + _WEBCONFIG),
    _no("basic-auth-username", _R + "BASIC_AUTH_USERNAME", "use " + _WEBCONFIG),
    _no("basic-auth-password", _R + "BASIC_AUTH_PASSWORD", "use " + _WEBCONFIG),
    _no("basic-auth-hash-password", _R + "BASIC_AUTH_HASH_PASSWORD", "use " + _WEBCONFIG),
    _no(
        "is-tile38",
        _R + "IS_TILE38",
        "Tile38's own metrics are not collected",
        boolean=True,
        same="false",
    ),
    _no(
        "cluster-discover-hostnames",
        _R + "CLUSTER_DISCOVER_HOSTNAMES",
        "cluster nodes are discovered by `discovery: cluster` in " + _CONFIG,
        boolean=True,
        same="false",
    ),
    _no(
        "export-client-port",
        _R + "EXPORT_CLIENT_PORT",
        "a client's port is left out on purpose: one series per connection has no bound",
        boolean=True,
        same="false",
    ),
    _no("version", "", "run `cachescope --version`", boolean=True, same="false"),
    _no(
        "redis-only-metrics",
        _R + "REDIS_ONLY_METRICS",
        "/scrape gives only the target's series; " + _PROCESS,
        boolean=True,
        same=_EITHER,
    ),
    _no(
        "include-go-runtime-metrics",
        _R + "INCLUDE_GO_RUNTIME_METRICS",
        "cachescope is not a Go program; " + _PROCESS,
        boolean=True,
        same="false",
    ),
    _no(
        "include-modules-metrics",
        _R + "INCL_MODULES_METRICS",
        "module metrics are not collected (INFO's # Modules section is read for redis_module_info)",
        boolean=True,
        same="false",
    ),
    _no(
        "include-search-indexes-metrics",
        _R + "INCL_SEARCH_INDEXES_METRICS",
        "RediSearch index metrics are not collected",
        boolean=True,
        same="false",
    ),
    _no("check-search-indexes", _R + "CHECK_SEARCH_INDEXES", "RediSearch is not collected"),
    _no(
        "include-sentinel-peer-info",
        _R + "INCL_SENTINEL_PEER_INFO",
        "sentinels are followed by `discovery: sentinel` in " + _CONFIG,
        boolean=True,
        same="false",
    ),
    _no(
        "exclude-latency-histogram-metrics",
        _R + "EXCLUDE_LATENCY_HISTOGRAM_METRICS",
        "the latency histograms are always collected where the server has them",
        boolean=True,
        same="false",
    ),
    _no(
        "include-rdb-file-size-metric",
        _R + "INCL_RDB_FILE_SIZE_METRIC",
        "it reads the server's disk, and cachescope only talks to the server over the network",
        boolean=True,
        same="false",
    ),
    _no(
        "disable-scrape-endpoint",
        _R + "DISABLE_SCRAPE_ENDPOINT",
        "/scrape reaches only listed targets and --scrape.allow patterns (README, Security)",
        boolean=True,
        same="false",
    ),
    _no(
        "include-metrics-for-empty-databases",
        _R + "INCL_METRICS_FOR_EMPTY_DATABASES",
        "empty databases are always exported as 0",
        boolean=True,
        same="true",
    ),
)


def _m(name: str, option: str) -> CompatFlag:
    return _alias(name, option, peer=MEMCACHED)


MEMCACHED_FLAGS: tuple[CompatFlag, ...] = (
    CompatFlag(
        name="memcached.address",
        peer=MEMCACHED,
        option="--target",
        to_args=_memcached,
        note="--target memcached://ADDRESS",
    ),
    _m("memcached.timeout", "--timeout"),
    CompatFlag(
        name="memcached.tls.enable",
        peer=MEMCACHED,
        option="--target",
        boolean=True,
        to_args=lambda value: (),  # translate() turns memcached:// into memcacheds://
        note="--target memcacheds://ADDRESS",
    ),
    _m("memcached.tls.cert-file", "--tls.cert-file"),
    _m("memcached.tls.key-file", "--tls.key-file"),
    _m("memcached.tls.ca-file", "--tls.ca-file"),
    _m("memcached.tls.server-name", "--tls.server-name"),
    CompatFlag(
        name="memcached.tls.insecure-skip-verify",
        peer=MEMCACHED,
        option="--tls.insecure-skip-verify",
        boolean=True,
        to_args=_switch("--tls.insecure-skip-verify"),
        note="--tls.insecure-skip-verify",
    ),
    CompatFlag(
        name="memcached.pid-file",
        peer=MEMCACHED,
        note="a remote server's process metrics are not the exporter's to read: run "
        "node_exporter or process-exporter beside memcached for them",
    ),
    CompatFlag(
        name="web.scrape-path",
        peer=MEMCACHED,
        same=("/scrape",),
        note="the multi-target path is /scrape; point the scrape config's metrics_path there",
    ),
    CompatFlag(
        name="web.systemd-socket",
        peer=MEMCACHED,
        boolean=True,
        same=("false",),
        note="systemd socket activation is not supported; use --web.listen-address",
    ),
)
# --web.listen-address, --web.config.file, --web.telemetry-path, --log.level and
# --log.format: memcached_exporter spells them as cachescope does.

COMPAT_FLAGS: tuple[CompatFlag, ...] = REDIS_FLAGS + MEMCACHED_FLAGS
BY_NAME: dict[str, CompatFlag] = {flag.name: flag for flag in COMPAT_FLAGS}


def aliases(option: str) -> list[CompatFlag]:
    """The rows that are other names of `option`."""
    return [flag for flag in COMPAT_FLAGS if flag.alias and flag.option == option]
