"""Command line: `cachescope serve` and `cachescope config check`."""

from __future__ import annotations

import logging
import os
import sys

import click

from cachescope import __version__
from cachescope.analyze.cli import analyze
from cachescope.clioptions import COMPAT_KEY, ServeCommand
from cachescope.config.credentials import TLSConfig
from cachescope.config.flags import TargetFlags, telemetry_paths
from cachescope.config.loader import load_config
from cachescope.config.records import TIMEOUT, RedisOptions
from cachescope.config.schema import Bounds, parse_duration
from cachescope.config.yamlmarks import ConfigError
from cachescope.dashboards.cli import dashboards
from cachescope.demo.cli import demo
from cachescope.healthcheck import healthcheck
from cachescope.logs import fields, setup_logging
from cachescope.mcpserver.cli import mcp
from cachescope.rules.cli import rules
from cachescope.serveoptions import with_serve_options

log = logging.getLogger("cachescope")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="cachescope")
def main() -> None:
    """Prometheus exporter for Redis and Memcached fleets."""


_EPILOG = (
    "redis_exporter's and memcached_exporter's flags and variables are read too "
    "(-flag or --flag): docs/migrating.md says what each does here."
)


# -h on its own too: a context made for serve alone (tests, healthcheck) answers to it as well.
@main.command(
    cls=ServeCommand, epilog=_EPILOG, context_settings={"help_option_names": ["-h", "--help"]}
)
@with_serve_options
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
    audit_interval: str,
    web_max_connections: int,
    web_shutdown_timeout: str,
    memcached_slab_metrics: bool,
    append_instance_role_label: bool,
    redis_client_breakdown: bool,
    redis_latency_histograms: bool,
    redis_latency_histograms_every: int,
    redis_search_indexes: tuple[str, ...],
    log_level: str,
    log_format: str,
) -> None:
    """Serve /metrics and /scrape for the configured targets."""
    from cachescope.fleet import Limits
    from cachescope.scrape.shard import parse_shard
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
            latency_histograms=redis_latency_histograms,
            latency_histograms_every=redis_latency_histograms_every,
            search_indexes=redis_search_indexes,
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
        audit_every = parse_audit_interval(audit_interval)
        service = Service(
            flags.load,
            address,
            web,
            limits=limits,
            web_max_connections=web_max_connections,
            shutdown_grace=grace,
            audit_interval=audit_every,
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
    service.run()
    _exit_now()


# --audit.interval: an audit samples its target for a second, so a shorter interval would
# audit without pause; a day is the longest duration the other flags take.
AUDIT_INTERVAL = Bounds(1.0, 86_400.0)


def parse_audit_interval(text: str) -> float:
    """--audit.interval in seconds: 0 turns the audit off, else 1s to 24h; ConfigError if not."""
    wanted = f"0 (off) or a duration {AUDIT_INTERVAL.describe()}"
    try:
        seconds = parse_duration(text, Bounds(0.0, AUDIT_INTERVAL.high))
    except ValueError:
        seconds = -1.0
    if seconds != 0 and not AUDIT_INTERVAL.low <= seconds <= AUDIT_INTERVAL.high:
        raise ConfigError(f"must be {wanted}, not {text}", "--audit.interval")
    return seconds


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
    """Exit, once stopped, without waiting for the threads still at work.

    The interpreter joins its pool threads at exit, and a thread may be inside a bcrypt
    check or a target's reply, which nothing can interrupt: SIGTERM would log "stopped"
    and the process would live on past --web.shutdown-timeout.
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
main.add_command(mcp)
main.add_command(healthcheck)
