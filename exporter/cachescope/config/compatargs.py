"""A serve command line as the peers' users write it, in click's terms.

Go's flag package takes `-name` as well as `--name`, and a bool flag takes a value only
after `=`. Before click parses, translate() spells every long flag with two dashes,
turns the peers' flags (and variables) that are not plain aliases into serve options
(compat.py says which), and collects what to log and what to refuse.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from cachescope.config.compat import BY_NAME, CompatFlag, go_bool
from cachescope.config.compatflag import EITHER

PASSWORD_OPTION = "--redis.password"
SEARCH_OPTION = "--redis.search-indexes"
TARGET_OPTION = "--target"
# Options two peer flags combine into (the search switch and its regex): in redis_exporter
# each of those flags falls back to its own variable, so a flag on the command line hides
# its own variable only, never its partner's.
_COMBINED = frozenset({SEARCH_OPTION})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class OptionSpec:
    """What translate() needs to know of one serve option."""

    names: tuple[str, ...]  # every spelling, "--x" and "-h" alike
    takes_value: bool
    envvars: tuple[str, ...] = ()


@dataclasses.dataclass(slots=True)
class Translation:
    args: list[str]
    notes: list[str] = dataclasses.field(default_factory=list)  # logged at info
    warnings: list[str] = dataclasses.field(default_factory=list)
    error: str = ""  # the first refused flag; never repeats a value


def translate(
    args: Sequence[str], environ: Mapping[str, str], options: Sequence[OptionSpec]
) -> Translation:
    """`args` with the peers' flags and variables turned into serve options."""
    by_name = {name: spec for spec in options for name in spec.names}
    out = Translation(args=[])
    given = _command_line(args, by_name, out)
    if not out.error:
        _from_environment(environ, options, by_name, given, out)
    if "--memcached.address" in given and TARGET_OPTION not in given:
        _targets_beside_memcached(environ, by_name, out)
    if "--memcached.tls.enable" in given:
        _memcached_over_tls(out)
    _search_indexes(out)
    if PASSWORD_OPTION in given:
        out.warnings.append(
            f"{PASSWORD_OPTION} on the command line shows in the process list (ps, "
            "/proc/PID/cmdline); prefer REDIS_PASSWORD, CACHESCOPE_REDIS_PASSWORD or "
            "--redis.password-file"
        )
    return out


def _command_line(
    args: Sequence[str], by_name: Mapping[str, OptionSpec], out: Translation
) -> set[str]:
    """The command line into `out`; the serve options it gives (and a true TLS switch)."""
    given: set[str] = set()  # first names of serve options, and the TLS switch when on
    tokens, i = list(args), 0
    while i < len(tokens) and not out.error:
        token, i = _two_dashes(tokens[i]), i + 1
        if token == "--":
            out.args.extend(tokens[i - 1 :])
            break
        name, has_value, value = token.partition("=")
        flag = BY_NAME.get(name[2:]) if name.startswith("--") else None
        if flag is None or flag.alias:
            out.args.append(token)
            spec = by_name.get(name)
            if spec is not None:
                given.add(spec.names[0])
                if spec.takes_value and not has_value and i < len(tokens):
                    out.args.append(tokens[i])  # a value, even one that starts with "-"
                    i += 1
            continue
        if not has_value and not flag.boolean:
            if i >= len(tokens):
                out.error = f"{name} needs a value"
                break
            value, i = tokens[i], i + 1
        value = value if has_value or not flag.boolean else "true"
        if flag.name == "memcached.tls.enable" and _true(value):
            given.add("--memcached.tls.enable")
        _apply(flag, value, name, out)
        given.add(_given_as(flag))
    return given


def _given_as(flag: CompatFlag) -> str:
    """What a peer flag on the command line hides from the environment."""
    if flag.name == "memcached.address":
        return "--memcached.address"  # a --target of its own: REDIS_ADDR still adds the other
    return "--" + flag.name if flag.option in _COMBINED else flag.option


def _targets_beside_memcached(
    environ: Mapping[str, str], by_name: Mapping[str, OptionSpec], out: Translation
) -> None:
    """REDIS_ADDR (or CACHESCOPE_TARGETS) beside --memcached.address: both are watched.

    click reads a variable only when the command line lacks its option, and
    --memcached.address became a --target: without this the Redis target would vanish.
    """
    spec = by_name.get(TARGET_OPTION)
    present = [var for var in (spec.envvars if spec else ()) if environ.get(var, "").strip()]
    if present:  # the first one set, as click would read it
        extra = [f"{TARGET_OPTION}={value}" for value in environ[present[0]].split()]
        out.args = extra + out.args
        out.notes.append(f"{present[0]} is watched beside --memcached.address")


def _memcached_over_tls(out: Translation) -> None:
    """memcached_exporter's --memcached.tls.enable: its address over TLS."""
    prefix, tls = "--target=memcached://", "--target=memcacheds://"
    out.args = [tls + arg[len(prefix) :] if arg.startswith(prefix) else arg for arg in out.args]
    if not out.error and not any(arg.startswith(tls) for arg in out.args):
        out.error = "--memcached.tls.enable needs --memcached.address"


def _search_indexes(out: Translation) -> None:
    """redis_exporter reads --check-search-indexes only with --include-search-indexes-metrics.

    Both became --redis.search-indexes: the switch as '.*', the regex as '.*(?:R).*',
    each from its flag or else its variable. The regex replaces the switch's every index;
    without the switch it is dropped.
    """
    every, regex = f"{SEARCH_OPTION}=.*", f"{SEARCH_OPTION}=.*(?:"
    if not any(arg.startswith(regex) for arg in out.args):
        return
    if every in out.args:
        out.args = [arg for arg in out.args if arg != every]
    else:
        out.args = [arg for arg in out.args if not arg.startswith(regex)]
        out.notes.append(
            "--check-search-indexes changes nothing without --include-search-indexes-metrics"
        )


def _two_dashes(token: str) -> str:
    """`-name` as Go's flag package reads it: `--name`; `-h` and `-` stay."""
    if token.startswith("-") and not token.startswith("--") and len(token) > 2:
        return "-" + token
    return token


def _true(value: str) -> bool:
    try:
        return go_bool(value)
    except ValueError:
        return False


def _apply(flag: CompatFlag, value: str, source: str, out: Translation) -> None:
    """One peer flag (or variable) with its value: serve arguments, a note or a refusal."""
    if out.error:
        return
    if flag.boolean:
        try:
            value = "true" if go_bool(value) else "false"
        except ValueError as exc:
            out.error = f"{source} {exc}"
            return
    if flag.to_args is not None:
        try:
            args = flag.to_args(value)
        except ValueError as exc:
            out.error = f"{source} {exc}"
            return
        out.args.extend(args)
        out.notes.append(source + _done(flag, value, args))
    elif value in flag.same and set(EITHER) <= set(flag.same):
        out.notes.append(f"{source} changes nothing here: {flag.note}")
    elif value in flag.same:
        out.notes.append(
            f"{source}={value} changes nothing here; another value is refused: {flag.note}"
        )
    else:
        what = f"{source}={value}" if flag.boolean else source
        out.error = f"{what} is not supported by cachescope: {flag.note}"


def _done(flag: CompatFlag, value: str, args: tuple[str, ...]) -> str:
    """What a translated flag became, for the start log."""
    if value == "false":
        return f"=false is {' '.join(args)}" if args else "=false changes nothing"
    return f" is {flag.note}" if args or value == "true" else f"={value} changes nothing"


def _from_environment(
    environ: Mapping[str, str],
    options: Sequence[OptionSpec],
    by_name: Mapping[str, OptionSpec],
    given: set[str],
    out: Translation,
) -> None:
    """The peers' variables, where neither the command line nor CACHESCOPE_* said otherwise."""
    ours = {spec.names[0] for spec in options if any(v in environ for v in spec.envvars)}
    before: list[str] = []
    for flag in BY_NAME.values():
        if flag.alias or not flag.env or flag.env not in environ:
            continue
        spec = by_name.get(flag.option)
        if spec is not None and (spec.names[0] in given or spec.names[0] in ours):
            continue
        if flag.option in _COMBINED and _given_as(flag) in given:
            continue
        held, out.args = out.args, before
        _apply(flag, environ[flag.env], flag.env, out)
        before, out.args = out.args, held
    out.args = before + out.args  # the command line comes last, and wins
