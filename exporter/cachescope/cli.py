"""Command line: `cachescope serve` and `cachescope check-config`."""

from __future__ import annotations

import logging
import os
import sys

import click

from cachescope import __version__
from cachescope.allow import AllowRule, parse_pattern
from cachescope.config import (
    DEFAULT_LISTEN_ADDRESS,
    DEFAULT_TARGET,
    Config,
    Credentials,
    load_config,
    parse_duration,
    target_from_uri,
)
from cachescope.logs import setup_logging
from cachescope.targets import Secret
from cachescope.yamlmarks import ConfigError

log = logging.getLogger("cachescope")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="cachescope")
def main() -> None:
    """Prometheus exporter for Redis and Memcached fleets."""


@main.command()
@click.option(
    "--web.listen-address",
    "listen",
    default=DEFAULT_LISTEN_ADDRESS,
    envvar="CACHESCOPE_WEB_LISTEN_ADDRESS",
    help="HOST:PORT to serve on.",
)
@click.option(
    "--config.file",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="CACHESCOPE_CONFIG_FILE",
    help="YAML file with targets and allow rules.",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    envvar="CACHESCOPE_TARGETS",
    help="Target URI, repeatable. Without targets and config: " + DEFAULT_TARGET,
)
@click.option(
    "--redis.user", "user", envvar="CACHESCOPE_REDIS_USER", help="ACL user for --target targets."
)
@click.option(
    "--redis.password-file",
    "password_file",
    type=click.Path(dir_okay=False),
    envvar="CACHESCOPE_REDIS_PASSWORD_FILE",
    help="File holding the password for --target targets (or set CACHESCOPE_REDIS_PASSWORD).",
)
@click.option(
    "--timeout",
    default="5s",
    envvar="CACHESCOPE_TIMEOUT",
    help="Per-target scrape timeout for --target targets.",
)
@click.option(
    "--scrape.allow",
    "allow",
    multiple=True,
    envvar="CACHESCOPE_SCRAPE_ALLOW",
    help="Pattern of unlisted targets that /scrape may reach, e.g. 'redis://10.0.0.0/8:*'.",
)
@click.option(
    "--max-concurrency",
    default=32,
    envvar="CACHESCOPE_MAX_CONCURRENCY",
    help="Targets scraped at the same time.",
)
@click.option(
    "--log.level",
    "log_level",
    default="info",
    envvar="CACHESCOPE_LOG_LEVEL",
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.option(
    "--log.format",
    "log_format",
    default="logfmt",
    envvar="CACHESCOPE_LOG_FORMAT",
    type=click.Choice(["logfmt", "json"]),
)
def serve(
    listen: str,
    config_file: str | None,
    targets: tuple[str, ...],
    user: str | None,
    password_file: str | None,
    timeout: str,
    allow: tuple[str, ...],
    max_concurrency: int,
    log_level: str,
    log_format: str,
) -> None:
    """Serve /metrics and /scrape for the configured targets."""
    from cachescope.fleet import Fleet
    from cachescope.server import parse_listen_address
    from cachescope.server import serve as run_server

    setup_logging(log_level, log_format)
    try:
        address = parse_listen_address(listen)
        config = _build_config(config_file, targets, user, password_file, timeout, allow)
    except (ConfigError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    log.info(
        "starting cachescope version=%s targets=%d allow_rules=%d",
        __version__,
        len(config.targets),
        len(config.allow),
    )
    fleet = Fleet(config, max_workers=max_concurrency)
    try:
        run_server(fleet, address)
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {listen}: {exc.strerror}") from None
    finally:
        fleet.close()


@main.command("check-config")
@click.argument("config_file", type=click.Path(dir_okay=False))
def check_config(config_file: str) -> None:
    """Validate a config file and list its targets."""
    try:
        config = load_config(config_file)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for target in config.targets:
        click.echo(f"{target.name}\t{target.endpoint.redacted()}")
    click.echo(f"{config_file}: {len(config.targets)} targets, {len(config.allow)} allow rules: OK")


def _build_config(
    config_file: str | None,
    targets: tuple[str, ...],
    user: str | None,
    password_file: str | None,
    timeout: str,
    allow: tuple[str, ...],
) -> Config:
    config = load_config(config_file) if config_file else Config(targets=[])
    credentials = Credentials(
        username=user, password=_flag_password(password_file), timeout=parse_duration(timeout)
    )
    uris = [uri for text in targets for uri in text.split()]
    if not uris and not config.targets and not config_file:
        uris = [DEFAULT_TARGET]
    names = {target.name for target in config.targets}
    for uri in uris:
        target = target_from_uri(uri, credentials)
        if target.endpoint.kind == "memcached":  # the --redis.* credentials are Redis' only
            target = target_from_uri(uri, Credentials(timeout=credentials.timeout))
        if target.name not in names:
            config.targets.append(target)
            names.add(target.name)
    for text in allow:
        config.allow.append(AllowRule(parse_pattern(text), credentials))
    return config


def _flag_password(password_file: str | None) -> Secret | None:
    if password_file:
        try:
            with open(password_file, encoding="utf-8") as handle:
                return Secret(handle.read().strip())
        except OSError as exc:
            raise ValueError(
                f"cannot read --redis.password-file {password_file}: {exc.strerror}"
            ) from None
    password = os.environ.get("CACHESCOPE_REDIS_PASSWORD")
    return Secret(password) if password else None
