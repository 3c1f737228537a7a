"""Command line: `cachescope serve` and `cachescope config check`."""

from __future__ import annotations

import logging
import os
import sys

import click

from cachescope import __version__
from cachescope.analyze.cli import analyze
from cachescope.clioptions import COMPAT_KEY, ServeCommand, normalize_log_level, serve_option
from cachescope.config.credentials import TLSConfig
from cachescope.config.flags import TargetFlags, telemetry_paths
from cachescope.config.loader import load_config
from cachescope.config.records import (
    DEFAULT_LISTEN_ADDRESS,
    DEFAULT_TARGET,
    TIMEOUT,
    RedisOptions,
)
from cachescope.config.schema import parse_duration
from cachescope.config.yamlmarks import ConfigError
from cachescope.dashboards.cli import dashboards
from cachescope.demo.cli import demo
from cachescope.logs import fields, setup_logging
from cachescope.rules.cli import rules

log = logging.getLogger("cachescope")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="cachescope")
def main() -> None:
    """Prometheus exporter for Redis and Memcached fleets."""


_option = serve_option
_EPILOG = (
    "redis_exporter's and memcached_exporter's flags and variables are read too "
    "(-flag or --flag): docs/migrating.md says what each does here."
)


@main.command(cls=ServeCommand, epilog=_EPILOG)
@_option(
    "--web.listen-address",
    "web_listen_address",
    "WEB_LISTEN_ADDRESS",
    default=DEFAULT_LISTEN_ADDRESS,
    help="HOST:PORT to serve on.",
)
@_option(
    "--web.telemetry-path",
    "web_telemetry_path",
    "WEB_TELEMETRY_PATH",
    default="/metrics",
    help="Path that serves /metrics' content too.",
)
@_option(
    "--web.config.file",
    "web_config_file",
    "WEB_CONFIG_FILE",
    type=click.Path(dir_okay=False),
    help="exporter-toolkit web config: TLS and basic auth for this exporter's endpoints.",
)
@_option(
    "--config.file",
    "config_file",
    "CONFIG_FILE",
    type=click.Path(dir_okay=False),
    help="YAML file with targets and allow rules; reloaded on SIGHUP and POST /-/reload.",
)
@_option(
    "--target",
    "target",
    "TARGETS",
    multiple=True,
    help="Target URI, repeatable. Without targets and config: " + DEFAULT_TARGET,
)
@_option("--redis.user", "redis_user", "REDIS_USER", help="ACL user for --target targets.")
@_option(
    "--redis.password",
    "redis_password",
    "REDIS_PASSWORD",
    help="Password for --target targets; prefer the variable or --redis.password-file, "
    "as a flag shows in the process list.",
)
@_option(
    "--redis.password-file",
    "redis_password_file",
    "REDIS_PASSWORD_FILE",
    type=click.Path(dir_okay=False),
    help="File with the password for --target targets, or with redis_exporter's JSON "
    "object of URI to password (each URI also becomes a target).",
)
@_option(
    "--redis.config-command",
    "redis_config_command",
    "REDIS_CONFIG_COMMAND",
    default="CONFIG",
    help="CONFIG under the name a renamed-command server gives it ('-': do not ask).",
)
@_option(
    "--tls.ca-file",
    "tls_ca_file",
    "TLS_CA_FILE",
    help="CA bundle for rediss:// and memcacheds:// --target targets.",
    type=click.Path(dir_okay=False),
)
@_option(
    "--tls.cert-file",
    "tls_cert_file",
    "TLS_CERT_FILE",
    type=click.Path(dir_okay=False),
    help="Client certificate for TLS --target targets.",
)
@_option(
    "--tls.key-file",
    "tls_key_file",
    "TLS_KEY_FILE",
    type=click.Path(dir_okay=False),
    help="Client key for TLS --target targets.",
)
@_option(
    "--tls.server-name",
    "tls_server_name",
    "TLS_SERVER_NAME",
    help="Name to verify the certificate of TLS --target targets against.",
)
@_option(
    "--tls.insecure-skip-verify",
    "tls_insecure_skip_verify",
    "TLS_INSECURE_SKIP_VERIFY",
    is_flag=True,
    help="Do not verify TLS --target targets' certificates.",
)
@_option(
    "--timeout",
    "timeout",
    "TIMEOUT",
    default="5s",
    help="Per-target scrape timeout for --target targets.",
)
@_option(
    "--scrape.allow",
    "scrape_allow",
    "SCRAPE_ALLOW",
    multiple=True,
    help="Pattern of unlisted targets that /scrape may reach, e.g. 'redis://10.0.0.0/8:*'.",
)
@_option(
    "--max-concurrency",
    "max_concurrency",
    "MAX_CONCURRENCY",
    default=32,
    type=click.IntRange(1, 4096),
    help="Targets scraped at the same time.",
)
@_option(
    "--limits.max-series",
    "limits_max_series",
    "LIMITS_MAX_SERIES",
    default=20_000,
    type=click.IntRange(0, 100_000_000),
    help="A target giving more series fails its scrape (0: no limit).",
)
@_option(
    "--limits.max-connections",
    "limits_max_connections",
    "LIMITS_MAX_CONNECTIONS",
    default=0,
    show_default="0: the open-file limit less 256",
    type=click.IntRange(0, 1_000_000),
    help="Targets that keep a connection between scrapes; the rest reconnect each time "
    "(0: as many as the open-file limit allows).",
)
@_option(
    "--shard",
    "shard",
    "SHARD",
    default="0/1",
    help="i/n: watch only the i-th of n slices of the targets, so n replicas split a fleet "
    "without overlap (slices by a hash of each target's name).",
)
@_option(
    "--scrape.processes",
    "scrape_processes",
    "SCRAPE_PROCESSES",
    default=0,
    type=click.IntRange(0, 256),
    help="Processes that scrape the targets of /metrics, this one included (1: no worker "
    "processes; 0: one per CPU once the fleet has 200 targets or more).",
)
@_option(
    "--web.max-connections",
    "web_max_connections",
    "WEB_MAX_CONNECTIONS",
    default=1024,
    type=click.IntRange(1, 65_536),
    help="HTTP connections open at once; an idle or slow one costs a file descriptor, and "
    "past the limit the oldest of them is closed, or the new one gets 503.",
)
@_option(
    "--web.shutdown-timeout",
    "web_shutdown_timeout",
    "WEB_SHUTDOWN_TIMEOUT",
    default="10s",
    help="On SIGTERM, how long requests under way may take to finish.",
)
@_option(
    "--append-instance-role-label",
    "append_instance_role_label",
    "APPEND_INSTANCE_ROLE_LABEL",  # redis_exporter's variable: config/compat_redis.py
    is_flag=True,
    help='Add instance_role="master"|"slave" to every series of a Redis target, as '
    "redis_exporter does; a failover then changes the series' identity.",
)
@_option(
    "--redis.client-breakdown",
    "redis_client_breakdown",
    "REDIS_CLIENT_BREAKDOWN",
    is_flag=True,
    help="Count a Redis target's connections by client name, address family and idle time "
    "(CLIENT LIST on every scrape; at most 100 names per target).",
)
@_option(
    "--memcached.slab-metrics/--no-memcached.slab-metrics",
    "memcached_slab_metrics",
    "MEMCACHED_SLAB_METRICS",
    default=True,
    help="Export Memcached's per-slab and per-item families (`stats slabs`, `stats items`): "
    "up to 63 slab classes each. A target's slab_metrics in the config file overrides it.",
)
@_option(
    "--log.level",
    "log_level",
    "LOG_LEVEL",
    default="info",
    type=click.Choice(["debug", "info", "warn", "warning", "error"], case_sensitive=False),
    callback=normalize_log_level,
)
@_option(
    "--log.format",
    "log_format",
    "LOG_FORMAT",
    default="logfmt",
    type=click.Choice(["logfmt", "json"]),
)
def serve(
    web_listen_address: str,
    web_telemetry_path: str,
    web_config_file: str | None,
    config_file: str | None,
    target: tuple[str, ...],
    redis_user: str | None,
    redis_password: str | None,
    redis_password_file: str | None,
    redis_config_command: str,
    tls_ca_file: str | None,
    tls_cert_file: str | None,
    tls_key_file: str | None,
    tls_server_name: str | None,
    tls_insecure_skip_verify: bool,
    timeout: str,
    scrape_allow: tuple[str, ...],
    max_concurrency: int,
    limits_max_series: int,
    limits_max_connections: int,
    shard: str,
    scrape_processes: int,
    web_max_connections: int,
    web_shutdown_timeout: str,
    memcached_slab_metrics: bool,
    append_instance_role_label: bool,
    redis_client_breakdown: bool,
    log_level: str,
    log_format: str,
) -> None:
    """Serve /metrics and /scrape for the configured targets."""
    from cachescope.fleet import Limits, parse_shard
    from cachescope.service import Service, connection_budget
    from cachescope.web.server import parse_listen_address
    from cachescope.web.webconfig import WebConfig, load_web_config

    setup_logging(log_level, log_format)
    _log_translation()
    flags = TargetFlags(
        config_file=config_file,
        targets=target,
        user=redis_user,
        password=redis_password,
        password_file=redis_password_file,
        config_command=redis_config_command,
        tls=TLSConfig(
            ca_file=tls_ca_file,
            cert_file=tls_cert_file,
            key_file=tls_key_file,
            server_name=tls_server_name,
            insecure_skip_verify=tls_insecure_skip_verify,
        ),
        timeout=timeout,
        allow=scrape_allow,
        slab_metrics=memcached_slab_metrics,
        redis=RedisOptions(
            append_instance_role_label=append_instance_role_label,
            client_breakdown=redis_client_breakdown,
        ),
    )
    try:
        address = parse_listen_address(web_listen_address)
        metrics_paths = telemetry_paths(web_telemetry_path)
        web = load_web_config(web_config_file) if web_config_file else WebConfig()
        limits = Limits(
            max_concurrency=max_concurrency,
            max_series=limits_max_series,
            max_connections=connection_budget(limits_max_connections),
            shard=parse_shard(shard),
            scrape_processes=scrape_processes,
        )
        try:
            grace = parse_duration(web_shutdown_timeout, TIMEOUT)
        except ValueError as exc:
            raise ConfigError(str(exc), "--web.shutdown-timeout") from None
        service = Service(
            flags.load,
            address,
            web,
            limits=limits,
            web_max_connections=web_max_connections,
            shutdown_grace=grace,
        )
        service.server.metrics_paths = metrics_paths
    except (ConfigError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {web_listen_address}: {exc.strerror}"
        ) from None
    targets = len(service.fleet.states)
    log.info("starting cachescope", extra=fields(version=__version__, targets=targets))
    if not service.run():
        _exit_now()


def _log_translation() -> None:
    """What the peers' flags became, and the warnings they earned, once logging is set up."""
    translation = click.get_current_context().meta.get(COMPAT_KEY)
    if translation is None:
        return
    for note in translation.notes:
        log.info("%s", note)
    for warning in translation.warnings:
        log.warning("%s", warning)


def _exit_now() -> None:
    """Exit without waiting for the threads still at work.

    A request thread may be inside a bcrypt check, which nothing can interrupt, and
    the interpreter joins its pool threads at exit: SIGTERM would log "stopped" and
    the process would live on until the check ends.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@main.group("config")
def config_group() -> None:
    """Work with configuration files."""


@config_group.command("check")
@click.argument("config_file", type=click.Path(dir_okay=False))
def config_check(config_file: str) -> None:
    """Validate a config file and list its targets (exit 1 on error): for CI."""
    try:
        config = load_config(config_file)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for target in config.targets:
        click.echo(f"{target.name}\t{target.endpoint.redacted()}")
    click.echo(f"{config_file}: {len(config.targets)} targets, {len(config.allow)} allow rules: OK")


# The older spelling still works, but only `config check` is shown and documented.
main.add_command(
    click.Command(
        "check-config",
        callback=config_check.callback,
        params=config_check.params,
        help=config_check.help,
        hidden=True,
    )
)
main.add_command(rules)
main.add_command(demo)
main.add_command(analyze)
main.add_command(dashboards)
