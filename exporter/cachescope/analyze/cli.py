"""`cachescope analyze TARGET...`: sample each cache twice and report what is wrong with it."""

from __future__ import annotations

import json
import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import click

from cachescope.analyze import findings, output, progress
from cachescope.analyze.audit import audit
from cachescope.analyze.figures import memcached_figures, redis_figures
from cachescope.analyze.sampling import sample
from cachescope.clioptions import thresholds_option
from cachescope.config.credentials import Credentials
from cachescope.config.loader import load_config
from cachescope.config.records import Config, TargetConfig, target_from_uri
from cachescope.config.schema import parse_duration
from cachescope.config.yamlmarks import ConfigError
from cachescope.errors import ScrapeError, scrubber_for
from cachescope.logs import setup_logging
from cachescope.rules import thresholds as thresholds_file

EXIT_OK, EXIT_USAGE, EXIT_CRITICAL, EXIT_UNREACHABLE = 0, 1, 2, 3
NO_TARGET = (
    "give at least one TARGET: a URI such as redis://host:6379 or memcached://host:11211, "
    "or a target's name with --config.file FILE"
)


class BadUsage(click.UsageError):
    """A bad invocation; exits 1, so that 2 only ever means a critical finding."""

    exit_code = EXIT_USAGE


class _Command(click.Command):
    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            raise BadUsage(exc.message, exc.ctx) from None


@click.command(cls=_Command)
@click.argument("targets", nargs=-1, metavar="TARGET...")
@click.option(
    "--config",
    "--config.file",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Config file; TARGET may then be a target's name from it (its credentials and TLS apply).",
)
@thresholds_option
@click.option(
    "--interval",
    default="10s",
    show_default=True,
    help="Time between the two samples that rates are computed from.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Report format.",
)
@click.option(
    "--timeout",
    default="5s",
    show_default=True,
    help="Per-request timeout for URI targets (config targets use their own).",
)
def analyze(
    targets: tuple[str, ...],
    config_file: str | None,
    thresholds_path: str | None,
    interval: str,
    fmt: str,
    timeout: str,
) -> None:
    """Report the health of caches, with recommendations, from the alerts' thresholds.

    Each TARGET (a URI such as redis://host:6379 or memcached://host:11211, or a name
    from --config) is sampled twice, --interval apart; every alert of the rules pack that
    applies to one sample is evaluated with the same thresholds (rules/thresholds.yml,
    overridden by --thresholds). Passwords are never printed.

    \b
    Exit codes:
      0  no critical finding (there may be high, medium or low ones)
      1  bad invocation: options, config or thresholds file
      2  at least one critical finding
      3  a target could not be read (status "error"); takes precedence over 2
    """
    if not targets:
        raise BadUsage(NO_TARGET)
    if not logging.getLogger().handlers:  # warnings (a refused command) as serve logs them
        setup_logging("warn", "logfmt")
    try:
        limits = thresholds_file.load(thresholds_path)
        seconds = parse_duration(interval)
        resolved = _resolve(targets, config_file, parse_duration(timeout))
    except (ConfigError, ValueError) as exc:
        raise BadUsage(str(exc)) from None
    what = progress.label([target.name for target in resolved])
    with (
        progress.shown(sys.stderr, what, seconds),
        ThreadPoolExecutor(min(len(resolved), 32)) as pool,
    ):
        reports = list(pool.map(lambda t: analyze_one(t, seconds, limits), resolved))
    if fmt == "json":
        click.echo(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    else:
        click.echo(output.table(reports, colour=sys.stdout.isatty()), nl=False)
    sys.exit(exit_code(reports))


def exit_code(reports: list[output.Report]) -> int:
    """3 if a target could not be read, else 2 if anything is critical, else 0."""
    if any(data["status"] == "error" for data in reports):
        return EXIT_UNREACHABLE
    priorities = {rec["priority"] for data in reports for rec in data["recommendations"]}
    return EXIT_CRITICAL if "critical" in priorities else EXIT_OK


def _resolve(names: tuple[str, ...], config_file: str | None, timeout: float) -> list[TargetConfig]:
    config = load_config(config_file) if config_file else Config(targets=[])
    known = {target.name: target for target in config.targets}
    resolved = []
    for name in names:
        if name in known:
            resolved.append(known[name])
        elif config_file and not _is_address(name):
            raise BadUsage(_unknown(name, config_file, sorted(known)))
        else:
            resolved.append(target_from_uri(name, Credentials(timeout=timeout)))
    return resolved


def _is_address(text: str) -> bool:
    """A URI or host:port, as opposed to a bare word that can only be a target's name."""
    return "://" in text or text.rpartition(":")[2].isdigit()


def _unknown(name: str, config_file: str, known: list[str]) -> str:
    listed = ", ".join(known[:5]) + (f" and {len(known) - 5} more" if len(known) > 5 else "")
    return f"no target named {name} in {config_file}" + (
        f" (its targets: {listed})" if known else " (it has no targets)"
    )


def analyze_one(target: TargetConfig, interval: float, limits: dict[str, Any]) -> output.Report:
    """One target's report, scrubbed of its password (table and JSON alike); never raises."""
    data = _report(target, interval, limits)
    scrubber = scrubber_for(target)
    return data if scrubber is None else output.scrubbed(data, scrubber)


def _report(target: TargetConfig, interval: float, limits: dict[str, Any]) -> output.Report:
    shown = target.endpoint.redacted()
    try:
        samples = sample(target, interval)
    except ScrapeError as exc:
        reason = f"{exc.kind}: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")
        down = findings.unreachable(target.endpoint.kind, exc.kind, exc.message, limits)
        return output.report(shown, down, None, reason)
    if target.endpoint.kind == "memcached":
        figures = memcached_figures(samples)
    else:
        figures = redis_figures(samples)
    found = findings.evaluate(figures, limits)
    return output.report(shown, found, figures, audit=audit(target, figures))
