"""Command-line options that several subcommands share."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from cachescope.config.compat import aliases
from cachescope.config.compatargs import OptionSpec, translate

F = TypeVar("F", bound=Callable[..., Any])

thresholds_option = click.option(
    "--thresholds",
    "thresholds_path",
    type=click.Path(dir_okay=False),
    envvar="CACHESCOPE_THRESHOLDS",
    help="YAML file overriding any of the default thresholds (rules/thresholds.yml).",
)


def serve_option(name: str, dest: str, env: str, **kwargs: Any) -> Callable[[F], F]:
    """A serve option: variable CACHESCOPE_<env>, plus the peers' names for it (compat.py)."""
    names = [name] + [f"--{flag.name}" for flag in aliases(name) if f"--{flag.name}" != name]
    envvars = [f"CACHESCOPE_{env}"] + [flag.env for flag in aliases(name) if flag.env]
    return click.option(*names, dest, envvar=envvars, show_envvar=True, **kwargs)


class ServeCommand(click.Command):
    """A command that also reads redis_exporter's and memcached_exporter's flags."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        specs = [
            OptionSpec(
                names=tuple(param.opts + param.secondary_opts),
                takes_value=not param.is_flag,
                envvars=_envvars(param.envvar),
            )
            for param in self.get_params(ctx)
            if isinstance(param, click.Option)
        ]
        translation = translate(args, os.environ, specs)
        if translation.error:
            raise click.UsageError(translation.error + "; see docs/migrating.md", ctx)
        ctx.meta[COMPAT_KEY] = translation
        return super().parse_args(ctx, translation.args)


COMPAT_KEY = "cachescope.compat"


def _envvars(envvar: str | Sequence[str] | None) -> tuple[str, ...]:
    if envvar is None:
        return ()
    return (envvar,) if isinstance(envvar, str) else tuple(envvar)


def normalize_log_level(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """`warn`, as Prometheus' tools spell it, is logging's WARNING."""
    value = value.lower()
    return "warning" if value == "warn" else value
