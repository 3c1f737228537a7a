"""`cachescope rules render` / `docs`: the rule files, the runbooks and README's alert tables."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cachescope.clioptions import thresholds_option
from cachescope.config.yamlmarks import ConfigError
from cachescope.rules import docs as docs_rendering
from cachescope.rules import render as rendering
from cachescope.rules import thresholds as thresholds_file


# The one --thresholds option of every command that reads the thresholds file.
@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
def rules() -> None:
    """Alert and recording rules for Prometheus."""


@rules.command()
@thresholds_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["prometheus", "prometheus-operator"]),
    default="prometheus",
    help="Prometheus rule files, or one PrometheusRule object.",
)
@click.option(
    "--output",
    default="-",
    help="Directory to write the files into, or - for standard output (one document).",
)
def render(thresholds_path: str | None, output_format: str, output: str) -> None:
    """Render the rules from the thresholds."""
    try:
        if not thresholds_file.DEFAULT_FILE.is_file():
            raise ConfigError(
                "default thresholds not found (they ship with the source tree)",
                str(thresholds_file.DEFAULT_FILE),
            )
        values = thresholds_file.load(thresholds_path)
        documents = rendering.render_documents(values, output_format, combined=output == "-")
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if output == "-":
        for text in documents.values():
            click.echo(text, nl=False)
        return
    directory = Path(output)
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in documents.items():
        (directory / name).write_text(text, encoding="utf-8")
        click.echo(f"wrote {directory / name}", err=True)


@rules.command()
@click.option(
    "--runbooks",
    "runbooks_path",
    default="docs/runbooks.md",
    type=click.Path(dir_okay=False),
    help="The runbook page to write, whole.",
)
@click.option(
    "--audit",
    "audit_path",
    default="docs/audit.md",
    type=click.Path(dir_okay=False),
    help="The configuration audit's page to write, whole.",
)
@click.option(
    "--readme",
    "readme_path",
    default="README.md",
    type=click.Path(dir_okay=False, exists=True),
    help="The README whose alert blocks (between marker comments) to rewrite.",
)
def docs(runbooks_path: str, audit_path: str, readme_path: str) -> None:
    """Render the runbook page, the audit page and README's alert tables from the registries."""
    readme = Path(readme_path)
    try:
        text = docs_rendering.readme(readme.read_text(encoding="utf-8"), thresholds_file.load())
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except ValueError as exc:
        click.echo(f"error: {readme_path} {exc}", err=True)
        sys.exit(1)
    Path(runbooks_path).write_text(docs_rendering.runbooks_page(), encoding="utf-8")
    Path(audit_path).write_text(docs_rendering.audit_page(), encoding="utf-8")
    readme.write_text(text, encoding="utf-8")
    click.echo(
        f"wrote {runbooks_path}, {audit_path} and the alert blocks of {readme_path}", err=True
    )
