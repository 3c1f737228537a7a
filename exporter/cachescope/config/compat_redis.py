"""redis_exporter's flags and variables, row by row (compat.py has the rules)."""

from __future__ import annotations

from cachescope.config.compatflag import EITHER, REDIS, CompatFlag, go_bool, switch
from cachescope.config.compatflag import alias as _alias
from cachescope.config.compatflag import no as _no
from cachescope.config.indexpattern import PatternError, compile_index_pattern

_R = "REDIS_EXPORTER_"


def _log_format(value: str) -> tuple[str, ...]:
    formats = {"txt": "logfmt", "logfmt": "logfmt", "json": "json"}
    if value.lower() not in formats:
        raise ValueError("takes txt or json")
    return (f"--log.format={formats[value.lower()]}",)


def _log_level(value: str) -> tuple[str, ...]:
    # redis_exporter's levels are logrus': trace and fatal / panic have no twin here.
    levels = {"trace": "debug", "fatal": "error", "panic": "error"}
    level = levels.get(value.lower(), value.lower())
    if level not in ("debug", "info", "warn", "warning", "error"):
        raise ValueError("takes trace, debug, info, warn, error, fatal or panic")
    return (f"--log.level={level}",)


SEARCH_OPTION = "--redis.search-indexes"
EVERY_INDEX = ".*"


def _check_search_indexes(value: str) -> tuple[str, ...]:
    """redis_exporter's regex, found anywhere in a name: ours matches the whole name."""
    try:
        compile_index_pattern(value)
    except PatternError as exc:
        raise ValueError(f"takes a regular expression in Go's (RE2) syntax: {exc.reason}") from None
    if value in ("", EVERY_INDEX):
        return (f"{SEARCH_OPTION}={EVERY_INDEX}",)
    return (f"{SEARCH_OPTION}=.*(?:{value}).*",)


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
    CompatFlag(
        name="log-level",
        peer=REDIS,
        env=_R + "LOG_LEVEL",
        option="--log.level",
        to_args=_log_level,
        note="--log.level (trace is debug; fatal and panic are error)",
    ),
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
        to_args=switch("--tls.insecure-skip-verify"),
        note="--tls.insecure-skip-verify",
    ),
    CompatFlag(
        name="append-instance-role-label",
        peer=REDIS,
        env=_R + "APPEND_INSTANCE_ROLE_LABEL",
        option="--append-instance-role-label",
        boolean=True,
        to_args=switch("--append-instance-role-label"),
        note="cachescope's own --append-instance-role-label",
    ),
    CompatFlag(
        name="export-client-list",
        peer=REDIS,
        env=_R + "EXPORT_CLIENT_LIST",
        option="--redis.client-breakdown",
        boolean=True,
        to_args=switch("--redis.client-breakdown"),
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
        same=EITHER,
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
        same=EITHER,
    ),
    _no(
        "include-system-metrics",
        _R + "INCL_SYSTEM_METRICS",
        "redis_total_system_memory_bytes is always exported (RedisRssNearSystemMemory reads it)",
        boolean=True,
        same=EITHER,
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
    _no(
        "check-keys",
        _R + "CHECK_KEYS",
        "key patterns are sampled as `groups` in " + _KEYSPACE,
        same="",
    ),
    _no("check-single-keys", _R + "CHECK_SINGLE_KEYS", "use `check_keys` in " + _KEYSPACE, same=""),
    _no(
        "check-key-groups",
        _R + "CHECK_KEY_GROUPS",
        "use `groups` (glob patterns) in " + _KEYSPACE,
        same="",
    ),
    _no(
        "max-distinct-key-groups",
        _R + "MAX_DISTINCT_KEY_GROUPS",
        "use `max_groups` in " + _KEYSPACE,
        same="100",
    ),
    _no(
        "check-streams",
        _R + "CHECK_STREAMS",
        "list the streams under `streams` in " + _KEYSPACE,
        same="",
    ),
    _no(
        "check-single-streams",
        _R + "CHECK_SINGLE_STREAMS",
        "use `streams` in " + _KEYSPACE,
        same="",
    ),
    _no(
        "streams-exclude-consumer-metrics",
        _R + "STREAMS_EXCLUDE_CONSUMER_METRICS",
        "cachescope exports no per-consumer stream series (only per group)",
        boolean=True,
        same=EITHER,
    ),
    _no("count-keys", _R + "COUNT_KEYS", "use `groups` in " + _KEYSPACE, same=""),
    _no(
        "check-keys-batch-size",
        _R + "CHECK_KEYS_BATCH_SIZE",
        "use `scan_count` and `commands_per_second` in " + _KEYSPACE,
        same="1000",
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
    _no("script", _R + "SCRIPT", "Lua scripts are not run: cachescope only reads", same=""),
    _no(
        "lua-script-read-only",
        _R + "LUA_SCRIPT_READ_ONLY",
        "Lua scripts are not run: cachescope only reads",
        boolean=True,
        same="false",
    ),
    _no("tls-server-key-file", _R + "TLS_SERVER_KEY_FILE", "use " + _WEBCONFIG, same=""),
    _no("tls-server-cert-file", _R + "TLS_SERVER_CERT_FILE", "use " + _WEBCONFIG, same=""),
    _no("tls-server-ca-cert-file", _R + "TLS_SERVER_CA_CERT_FILE", "use " + _WEBCONFIG, same=""),
    _no(
        "tls-server-min-version",
        _R + "TLS_SERVER_MIN_VERSION",
        "use " + _WEBCONFIG,
        same=("", "TLS1.2"),
    ),
    _no("basic-auth-username", _R + "BASIC_AUTH_USERNAME", "use " + _WEBCONFIG, same=""),
    _no("basic-auth-password", _R + "BASIC_AUTH_PASSWORD", "use " + _WEBCONFIG, same=""),
    _no("basic-auth-hash-password", _R + "BASIC_AUTH_HASH_PASSWORD", "use " + _WEBCONFIG, same=""),
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
        same=EITHER,
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
        "cachescope always exports redis_module_info and, where a module is loaded, its own "
        "INFO section (search_*, bf_*, json_*) under redis_exporter's names",
        boolean=True,
        same=EITHER,
    ),
    CompatFlag(
        name="include-search-indexes-metrics",
        peer=REDIS,
        env=_R + "INCL_SEARCH_INDEXES_METRICS",
        option=SEARCH_OPTION,
        boolean=True,
        to_args=lambda value: (f"{SEARCH_OPTION}={EVERY_INDEX}",) if go_bool(value) else (),
        note=f"{SEARCH_OPTION}='{EVERY_INDEX}' (every index FT._LIST shows, at most 50)",
    ),
    CompatFlag(
        name="check-search-indexes",
        peer=REDIS,
        env=_R + "CHECK_SEARCH_INDEXES",
        option=SEARCH_OPTION,
        to_args=_check_search_indexes,
        note=f"{SEARCH_OPTION} (its regex, in Go's syntax, matched anywhere in the name, as "
        "redis_exporter does; only with --include-search-indexes-metrics or its variable)",
    ),
    _no(
        "include-sentinel-peer-info",
        _R + "INCL_SENTINEL_PEER_INFO",
        "sentinels are followed by `discovery: sentinel` in " + _CONFIG,
        boolean=True,
        same="false",
    ),
    CompatFlag(
        name="exclude-latency-histogram-metrics",
        peer=REDIS,
        env=_R + "EXCLUDE_LATENCY_HISTOGRAM_METRICS",
        option="--redis.latency-histograms",
        boolean=True,
        # Set, it turns the histograms off: the switch the other way round.
        to_args=lambda value: (
            ("--no-redis.latency-histograms",)
            if go_bool(value)
            else ("--redis.latency-histograms",)
        ),
        note="--no-redis.latency-histograms (redis_latency_spike_* stay, which redis_exporter "
        "drops with it)",
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
