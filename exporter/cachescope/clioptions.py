"""Command-line options that several subcommands share."""

from __future__ import annotations

import click

thresholds_option = click.option(
    "--thresholds",
    "thresholds_path",
    type=click.Path(dir_okay=False),
    envvar="CACHESCOPE_THRESHOLDS",
    help="YAML file overriding any of the default thresholds (rules/thresholds.yml).",
)
