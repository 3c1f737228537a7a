"""The `cachescope serve` options, in the order `--help` lists them.

Each option's name, its destination and its CACHESCOPE_ variable say the same thing;
redis_exporter's and memcached_exporter's spellings are attached in clioptions.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from cachescope.clioptions import normalize_log_level
from cachescope.clioptions import serve_option as _option
from cachescope.config.records import (
    DEFAULT_LISTEN_ADDRESS,
    DEFAULT_TARGET,
    MAX_HISTOGRAM_EVERY,
    search_index_entry,
)

F = TypeVar("F", bound=Callable[..., Any])


def search_indexes(ctx: click.Context, values: tuple[str, ...]) -> tuple[str, ...]:
    """The --redis.search-indexes entries, each a name or a regex that compiles."""
    try:
        return tuple(search_index_entry(value) for value in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def one_listen_address(ctx: click.Context, values: tuple[str, ...]) -> str:
    """The one listen address; a repeated flag is refused, never one address dropped."""
    if len(values) > 1 and not ctx.resilient_parsing:
        raise click.BadParameter(
            f"given {len(values)} times ({', '.join(values)}): cachescope serves one address; "
            "run one exporter per address, or use :PORT for every interface"
        )
    return values[-1]


_OPTIONS: list[Callable[[Any], Any]] = [
    _option(
        "--web.listen-address",
        "web_listen_address",
        "WEB_LISTEN_ADDRESS",
        default=(DEFAULT_LISTEN_ADDRESS,),
        multiple=True,  # only to see a repeat: click keeps the last value silently
        callback=lambda ctx, param, value: one_listen_address(ctx, value),
        help="HOST:PORT to serve on (one; :PORT is IPv4 and IPv6).",
    ),
    _option(
        "--web.telemetry-path",
        "web_telemetry_path",
        "WEB_TELEMETRY_PATH",
        default="/metrics",
        help="Path that serves /metrics' content too.",
    ),
    _option(
        "--web.config.file",
        "web_config_file",
        "WEB_CONFIG_FILE",
        type=click.Path(dir_okay=False),
        help="exporter-toolkit web config: TLS and basic auth for this exporter's endpoints.",
    ),
    _option(
        "--config.file",
        "config_file",
        "CONFIG_FILE",
        type=click.Path(dir_okay=False),
        help="YAML file with targets and allow rules; reloaded on SIGHUP and POST /-/reload.",
    ),
    _option(
        "--target",
        "target",
        "TARGETS",
        multiple=True,
        help="Target URI, repeatable. Without targets and config: " + DEFAULT_TARGET,
    ),
    _option("--redis.user", "redis_user", "REDIS_USER", help="ACL user for --target targets."),
    _option(
        "--redis.password",
        "redis_password",
        "REDIS_PASSWORD",
        help="Password for --target targets; prefer the variable or --redis.password-file, "
        "as a flag shows in the process list.",
    ),
    _option(
        "--redis.password-file",
        "redis_password_file",
        "REDIS_PASSWORD_FILE",
        type=click.Path(dir_okay=False),
        help="File with the password for --target targets, or with redis_exporter's JSON "
        "object of URI to password (each URI also becomes a target).",
    ),
    _option(
        "--redis.config-command",
        "redis_config_command",
        "REDIS_CONFIG_COMMAND",
        default="CONFIG",
        help="CONFIG under the name a renamed-command server gives it ('-': do not ask).",
    ),
    _option(
        "--tls.ca-file",
        "tls_ca_file",
        "TLS_CA_FILE",
        help="CA bundle for rediss:// and memcacheds:// --target targets.",
        type=click.Path(dir_okay=False),
    ),
    _option(
        "--tls.cert-file",
        "tls_cert_file",
        "TLS_CERT_FILE",
        type=click.Path(dir_okay=False),
        help="Client certificate for TLS --target targets.",
    ),
    _option(
        "--tls.key-file",
        "tls_key_file",
        "TLS_KEY_FILE",
        type=click.Path(dir_okay=False),
        help="Client key for TLS --target targets.",
    ),
    _option(
        "--tls.server-name",
        "tls_server_name",
        "TLS_SERVER_NAME",
        help="Name to verify the certificate of TLS --target targets against.",
    ),
    _option(
        "--tls.insecure-skip-verify/--no-tls.insecure-skip-verify",
        "tls_insecure_skip_verify",
        "TLS_INSECURE_SKIP_VERIFY",
        is_flag=True,
        help="Do not verify TLS --target targets' certificates.",
    ),
    _option(
        "--timeout",
        "timeout",
        "TIMEOUT",
        default="5s",
        help="Per-target scrape timeout for --target targets.",
    ),
    _option(
        "--scrape.allow",
        "scrape_allow",
        "SCRAPE_ALLOW",
        multiple=True,
        help="Pattern of unlisted targets that /scrape may reach, e.g. 'redis://10.0.0.0/8:*'.",
    ),
    _option(
        "--max-concurrency",
        "max_concurrency",
        "MAX_CONCURRENCY",
        default=32,
        type=click.IntRange(1, 4096),
        help="Targets scraped at the same time.",
    ),
    _option(
        "--limits.max-series",
        "limits_max_series",
        "LIMITS_MAX_SERIES",
        default=20_000,
        type=click.IntRange(0, 100_000_000),
        help="A target giving more series fails its scrape (0: no limit).",
    ),
    _option(
        "--limits.max-connections",
        "limits_max_connections",
        "LIMITS_MAX_CONNECTIONS",
        default=0,
        show_default="0: the open-file limit less 256",
        type=click.IntRange(0, 1_000_000),
        help="Targets that keep a connection between scrapes; the rest reconnect each time "
        "(0: as many as the open-file limit allows).",
    ),
    _option(
        "--shard",
        "shard",
        "SHARD",
        default="0/1",
        help="i/n: /metrics watches only the i-th of n slices of the targets, so n replicas "
        "split a fleet without overlap (slices by a hash of each target's name); /scrape "
        "serves every target whatever the shard.",
    ),
    _option(
        "--scrape.processes",
        "scrape_processes",
        "SCRAPE_PROCESSES",
        default=0,
        type=click.IntRange(0, 256),
        help="Processes that scrape the targets of /metrics, this one included (1: no worker "
        "processes; 0: one per CPU once the fleet has 200 targets or more).",
    ),
    _option(
        "--audit.interval",
        "audit_interval",
        "AUDIT_INTERVAL",
        default="15m",
        help="How often a background thread audits each target's configuration, as "
        "`cachescope analyze` does, for cachescope_config_finding (0: never; no thread).",
    ),
    _option(
        "--web.max-connections",
        "web_max_connections",
        "WEB_MAX_CONNECTIONS",
        default=1024,
        type=click.IntRange(1, 65_536),
        help="HTTP connections open at once; an idle or slow one costs a file descriptor, and "
        "past the limit the oldest of them is closed, or the new one gets 503.",
    ),
    _option(
        "--web.shutdown-timeout",
        "web_shutdown_timeout",
        "WEB_SHUTDOWN_TIMEOUT",
        default="10s",
        help="On SIGTERM, how long requests under way may take to finish.",
    ),
    _option(
        "--append-instance-role-label/--no-append-instance-role-label",
        "append_instance_role_label",
        "APPEND_INSTANCE_ROLE_LABEL",  # redis_exporter's variable: config/compat_redis.py
        is_flag=True,
        help='Add instance_role="master"|"slave" to every series of a Redis target, as '
        "redis_exporter does; a failover then changes the series' identity.",
    ),
    _option(
        "--redis.client-breakdown/--no-redis.client-breakdown",
        "redis_client_breakdown",
        "REDIS_CLIENT_BREAKDOWN",
        is_flag=True,
        help="Count a Redis target's connections by client name, address family and idle time "
        "(CLIENT LIST on every scrape; at most 100 names per target).",
    ),
    _option(
        "--redis.latency-histograms/--no-redis.latency-histograms",
        "redis_latency_histograms",
        "REDIS_LATENCY_HISTOGRAMS",
        default=True,
        is_flag=True,
        help="Per-command latency histograms of Redis 7.0+ targets from LATENCY HISTOGRAM "
        "(at most 200 commands per target); off, as redis_exporter's "
        "--exclude-latency-histogram-metrics.",
    ),
    _option(
        "--redis.latency-histograms-every",
        "redis_latency_histograms_every",
        "REDIS_LATENCY_HISTOGRAMS_EVERY",
        default=1,
        type=click.IntRange(1, MAX_HISTOGRAM_EVERY),
        help="Ask LATENCY HISTOGRAM on every Nth scrape of a target only, and export the last "
        "one again in between: 1/N of its cost, the buckets up to N-1 scrapes old.",
    ),
    _option(
        "--redis.search-indexes",
        "redis_search_indexes",
        "REDIS_SEARCH_INDEXES",
        multiple=True,
        callback=lambda ctx, param, value: search_indexes(ctx, value),
        help="RediSearch index of every Redis target to read with FT.INFO, repeatable: a name, "
        "or a regex matched against the whole name (needs FT._LIST, RediSearch 2+); "
        "at most 50 indexes per target.",
    ),
    _option(
        "--memcached.slab-metrics/--no-memcached.slab-metrics",
        "memcached_slab_metrics",
        "MEMCACHED_SLAB_METRICS",
        default=True,
        help="Export Memcached's per-slab and per-item families (`stats slabs`, `stats items`): "
        "up to 63 slab classes each. A target's slab_metrics in the config file overrides it.",
    ),
    _option(
        "--log.level",
        "log_level",
        "LOG_LEVEL",
        default="info",
        type=click.Choice(["debug", "info", "warn", "warning", "error"], case_sensitive=False),
        callback=normalize_log_level,
    ),
    _option(
        "--log.format",
        "log_format",
        "LOG_FORMAT",
        default="logfmt",
        type=click.Choice(["logfmt", "json"]),
    ),
]


def with_serve_options(command: F) -> F:
    """Decorate the serve command with every option, the first listed first in --help."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command
