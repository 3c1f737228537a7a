"""A peer's boolean flag on the command line wins over any variable, `=false` too."""

from __future__ import annotations

import os
from unittest import mock

import click
import pytest
from cachescope.cli import main
from cachescope.config.compat import COMPAT_FLAGS, CompatFlag, go_bool
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

SERVE = main.commands["serve"]
_PARAMS = {
    name: param for param in SERVE.params if isinstance(param, click.Option) for name in param.opts
}
# Every boolean row that becomes a click flag: the ones a variable could override.
SWITCHES = [
    flag
    for flag in COMPAT_FLAGS
    if flag.boolean and flag.to_args is not None and getattr(_PARAMS.get(flag.option), "is_flag", 0)
]
SPELLINGS = ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False")


def _parsed(args: list[str], env: dict[str, str]) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CACHESCOPE_", "REDIS_"))}
    with mock.patch.dict(os.environ, dict(clean, **env), clear=True):
        return SERVE.make_context("serve", args).params


def _variables(flag: CompatFlag) -> tuple[str, ...]:
    envvar = _PARAMS[flag.option].envvar
    return (envvar,) if isinstance(envvar, str) else tuple(envvar or ())


def test_the_table_has_the_switches_the_break_was_found_in() -> None:
    names = {flag.name for flag in SWITCHES}
    assert {"skip-tls-verification", "append-instance-role-label"} <= names


@given(
    flag=st.sampled_from(SWITCHES),
    spelling=st.sampled_from(SPELLINGS),
    dashes=st.sampled_from(("-", "--")),
    ours=st.sampled_from((None, "true", "false")),
    peer=st.sampled_from((None, "true", "false")),
)
def test_a_peer_switch_on_the_command_line_beats_every_variable(
    flag: CompatFlag, spelling: str, dashes: str, ours: str | None, peer: str | None
) -> None:
    env = {}
    if ours is not None:
        env[_variables(flag)[0]] = ours  # CACHESCOPE_*
    if peer is not None and flag.env:
        env[flag.env] = peer
    param = _PARAMS[flag.option]
    params = _parsed([f"{dashes}{flag.name}={spelling}"], env)
    # A peer's exclude- switch set true turns cachescope's option off.
    assert params[str(param.name)] is (go_bool(spelling) != flag.name.startswith("exclude-"))


@given(
    flag=st.sampled_from([flag for flag in SWITCHES if flag.env]),
    ours=st.sampled_from(("true", "false")),
    peer=st.sampled_from(("true", "false")),
)
def test_a_cachescope_variable_beats_the_peer_variable(
    flag: CompatFlag, ours: str, peer: str
) -> None:
    env = {_variables(flag)[0]: ours, flag.env: peer}
    assert _parsed([], env)[str(_PARAMS[flag.option].name)] is (ours == "true")
