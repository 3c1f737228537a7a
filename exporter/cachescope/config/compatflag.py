"""One flag of a peer exporter, and what cachescope makes of it: the record and its builders."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

REDIS = "redis_exporter"
MEMCACHED = "memcached_exporter"

ToArgs = Callable[[str], tuple[str, ...]]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CompatFlag:
    """One flag of a peer exporter, and what cachescope makes of it."""

    name: str  # as the peer spells it, without dashes
    peer: str
    env: str = ""  # the peer's environment variable, if it reads one
    option: str = ""  # the serve option it is (alias) or becomes (to_args)
    to_args: ToArgs | None = None  # its value as serve arguments; ValueError: refused
    boolean: bool = False  # a Go bool flag: bare means true, a value only after "="
    same: tuple[str, ...] = ()  # values that are what cachescope does anyway
    note: str = ""  # what it does here, or why it is refused and what to use

    @property
    def alias(self) -> bool:
        """Another name (and variable) of a serve option, with the same values."""
        return bool(self.option) and self.to_args is None

    @property
    def refused(self) -> bool:
        """Refused whatever its value."""
        return not self.option and not self.same


def alias(name: str, option: str, env: str = "", peer: str = REDIS) -> CompatFlag:
    return CompatFlag(name=name, peer=peer, env=env, option=option, note=f"same as {option}")


def switch(option: str) -> ToArgs:
    """A Go boolean as a click `--x/--no-x` flag: `=false` says --no-x, so that it wins.

    Were `=false` to say nothing, click would read the option's variable instead, and
    CACHESCOPE_TLS_INSECURE_SKIP_VERIFY=true would beat `-skip-tls-verification=false`.
    """
    negative = "--no-" + option.removeprefix("--")
    return lambda value: (option,) if go_bool(value) else (negative,)


_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def go_bool(value: str) -> bool:
    """A boolean as Go's strconv.ParseBool reads it; ValueError otherwise."""
    if value in _GO_TRUE or value in _GO_FALSE:
        return value in _GO_TRUE
    raise ValueError("takes true or false")


EITHER = ("true", "false")


def no(
    name: str, env: str, note: str, *, boolean: bool = False, same: str | tuple[str, ...] = ()
) -> CompatFlag:
    """A redis_exporter flag cachescope has no option for; `same`: the values it accepts."""
    values = (same,) if isinstance(same, str) else same
    return CompatFlag(name=name, peer=REDIS, env=env, boolean=boolean, same=values, note=note)
