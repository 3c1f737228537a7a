"""`cachescope dashboards render`: write the Grafana dashboards (and their ConfigMap)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cachescope.clioptions import thresholds_option
from cachescope.config.yamlmarks import ConfigError
from cachescope.dashboards import render as rendering
from cachescope.rules import thresholds as thresholds_file

NO_OUTPUT = (
    "give --output DIR, the directory for the dashboard JSON files (in the source tree: "
    "--output grafana/dashboards --configmap deploy/kubernetes)"
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
def dashboards() -> None:
    """Grafana dashboards whose thresholds are the alerts'."""


@dashboards.command()
@thresholds_option
@click.option(
    "--output",
    help="Directory for the dashboard JSON files (required: nothing is written by default).",
)
@click.option(
    "--configmap",
    "configmap_dir",
    default="",
    help="Directory for dashboards-configmap.yaml; none unless given.",
)
def render(thresholds_path: str | None, output: str | None, configmap_dir: str) -> None:
    """Render the dashboards from the thresholds into --output (and --configmap).

    Both directories are named explicitly, so that a render run from anywhere never
    scatters files into the current directory. In the source tree:
    --output grafana/dashboards --configmap deploy/kubernetes
    """
    if not output:
        raise click.UsageError(NO_OUTPUT)
    try:
        values = thresholds_file.load(thresholds_path)
        files, configmap = rendering.render(values)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    written = {Path(output) / name: text for name, text in files.items()}
    if configmap_dir:
        written[Path(configmap_dir) / rendering.CONFIGMAP_FILE] = configmap
    for path, text in written.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        click.echo(f"wrote {path}", err=True)
