"""`cachescope mcp`: the targets' health for AI assistants, over stdio or streamable HTTP."""

from __future__ import annotations

import logging

import click

from cachescope.clioptions import normalize_log_level, thresholds_option
from cachescope.config.flags import TargetFlags
from cachescope.config.records import DEFAULT_TARGET
from cachescope.config.yamlmarks import ConfigError
from cachescope.logs import setup_logging

log = logging.getLogger("cachescope")
# Next to redis_exporter's 9121 and cachescope's own port; loopback unless asked otherwise.
DEFAULT_MCP_ADDRESS = "127.0.0.1:9122"
MISSING_SDK = "cachescope mcp needs the MCP SDK, an optional extra: pip install 'cachescope[mcp]'"


@click.command("mcp")
@click.option(
    "--config.file",
    "config_file",
    envvar="CACHESCOPE_CONFIG_FILE",
    type=click.Path(dir_okay=False),
    help="The exporter's config file: its targets, discovery and allow patterns.",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    help=f"Target URI, repeatable. Without targets and config: {DEFAULT_TARGET}",
)
@thresholds_option
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio for a desktop assistant that starts this process; http (streamable HTTP) "
    "for a shared server.",
)
@click.option(
    "--web.listen-address",
    "listen_address",
    default=DEFAULT_MCP_ADDRESS,
    show_default=True,
    help="HOST:PORT of the HTTP transport (its endpoint is /mcp).",
)
@click.option(
    "--web.config.file",
    "web_config_file",
    envvar="CACHESCOPE_WEB_CONFIG_FILE",
    type=click.Path(dir_okay=False),
    help="exporter-toolkit web config (TLS, basic auth) for the HTTP transport, as serve's.",
)
@click.option(
    "--log.level",
    "log_level",
    default="warn",
    show_default=True,
    type=click.Choice(["debug", "info", "warn", "warning", "error"], case_sensitive=False),
    callback=normalize_log_level,
)
@click.option(
    "--log.format",
    "log_format",
    default="logfmt",
    show_default=True,
    type=click.Choice(["logfmt", "json"]),
)
def mcp(
    config_file: str | None,
    targets: tuple[str, ...],
    thresholds_path: str | None,
    transport: str,
    listen_address: str,
    web_config_file: str | None,
    log_level: str,
    log_format: str,
) -> None:
    """Serve the Model Context Protocol: read-only cache health tools for assistants.

    Tools: list_targets, fleet_health, analyze_target, keyspace_report, explain_alert and
    topology; only configured targets and addresses an allow pattern admits can be named,
    and nothing is ever written to a cache. Logs go to stderr (stdout carries the protocol).
    """
    setup_logging(log_level, log_format)
    try:
        from cachescope.mcpserver import run
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith(("mcp", "anyio", "uvicorn", "starlette")):
            raise
        raise click.ClickException(MISSING_SDK) from None
    flags = TargetFlags(
        config_file=config_file,
        targets=targets,
        user=None,
        password_file=None,
        timeout="5s",
        allow=(),
    )
    try:
        run.main(flags, thresholds_path, transport, listen_address, web_config_file)
    except (ConfigError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
