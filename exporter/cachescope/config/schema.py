"""Declared schemas for YAML input: one reader, one located error wording.

A schema is a function from a `Node` (a value and where it sits in its document) to the
checked value. The config, the web config, the keyspace settings and the thresholds all
declare theirs from the few builders here, so each reports a wrong type, an unknown key
or a value out of range as `<file>:<line>: <field.path>: <what is wrong>`.

A type error names the kind found ("not a list"), never the value: a password in the
wrong place must not be echoed. Only numbers, durations and choices repeat the value.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from cachescope.config.yamlmarks import ConfigError, FieldPath, MarkedYAML

T = TypeVar("T")
# Go's time.ParseDuration, which the peers' flags take: "1m30s", "2m0s", "1h2m3.5s", "500ms".
# A sign is read so that -1s is reported as out of range, like 0s, rather than as unreadable.
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_PART = re.compile(rf"({_NUMBER})(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_DURATION = re.compile(rf"^([-+]?)((?:{_NUMBER}(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+|{_NUMBER})$")
_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 0.001, "s": 1.0}
_UNITS |= {"m": 60.0, "h": 3600.0}


@dataclasses.dataclass(frozen=True, slots=True)
class Node:
    """A value read from a YAML document, with the path that locates it."""

    doc: MarkedYAML
    path: FieldPath
    value: Any

    @classmethod
    def root(cls, doc: MarkedYAML) -> Node:
        return cls(doc, (), doc.data)

    def at(self, key: str | int) -> Node:
        """The child at `key` (None when absent, so that a later check can still locate it)."""
        value = self.value
        child = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
            child = value[key]
        return Node(self.doc, self.path + (key,), child)

    def error(self, message: str) -> ConfigError:
        return self.doc.error(self.path, message)


Schema = Callable[[Node], Any]

_KINDS = {bool: "true/false", int: "a whole number", float: "a number", str: "a string"}


def kind(value: Any) -> str:
    """What a value is, in YAML words, without repeating it."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "empty" if value is None else _KINDS.get(type(value), "a value")


def wrong(node: Node, wanted: str) -> ConfigError:
    """'must be <wanted>, not <kind found>': the wrong-type error, value left out."""
    return node.error(f"must be {wanted}, not {kind(node.value)}")


def anything(node: Node) -> Any:
    """Accepted as written: a field other tools read and we ignore."""
    return node.value


def text(node: Node) -> str:
    """A string; a plain number is taken as its digits (a port, a numeric user name)."""
    if isinstance(node.value, bool) or not isinstance(node.value, str | int):
        raise wrong(node, "a string")
    return str(node.value)


def nonempty_text(node: Node) -> str:
    if not isinstance(node.value, str):
        raise wrong(node, "a non-empty string")
    if not node.value.strip():
        raise node.error("must be a non-empty string")
    return node.value


def boolean(node: Node) -> bool:
    if not isinstance(node.value, bool):
        raise wrong(node, "true or false")
    return node.value


def integer(low: int, high: int) -> Schema:
    """A whole number from `low` to `high`."""

    def check(node: Node) -> int:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong(node, f"a whole number between {low} and {high}")
        if not low <= value <= high:
            raise node.error(out_of_range("a whole number", f"between {low} and {high}", value))
        return value

    return check


def number(accept: Callable[[float], bool], wanted: str) -> Schema:
    """A finite number that `accept` takes; `wanted` says which, e.g. 'a ratio from 0 to 1'."""

    def check(node: Node) -> float:
        value = node.value
        # NaN compares false with everything, so a range check alone would let it through.
        if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
            raise node.error(f"must be a finite number, not {_short(value)}")
        if not accept(value):
            raise node.error(f"must be {wanted}, not {value!r}")
        return value

    return check


def one_of(*choices: str) -> Schema:
    def check(node: Node) -> str:
        if node.value not in choices or not isinstance(node.value, str):
            raise node.error(f"must be one of {', '.join(choices)}, not {_short(node.value)}")
        return node.value

    return check


def via(parse: Callable[[Any], T], first: Schema = text) -> Schema:
    """`first`, then `parse`, whose ValueError becomes the located message."""

    def check(node: Node) -> T:
        value = first(node)  # its ConfigError (a ValueError too) is located already
        try:
            return parse(value)
        except ValueError as exc:
            raise node.error(str(exc)) from None

    return check


def optional(schema: Schema, empty: Any = None) -> Schema:
    """An empty `key:` is `empty`; anything else goes through `schema`."""
    return lambda node: empty if node.value is None else schema(node)


def list_of(item: Schema, single: bool = False) -> Schema:
    """A list (empty when absent); with `single`, one bare item stands for a list of it."""

    def check(node: Node) -> list[Any]:
        if node.value is None:
            return []
        if not isinstance(node.value, list):
            if single:
                return [item(node)]
            raise wrong(node, "a list")
        return [item(node.at(i)) for i in range(len(node.value))]

    return check


def mapping_of(value: Schema, key: Callable[[str], str | None] = lambda _: None) -> Schema:
    """A mapping whose keys the user chooses; `key` says what is wrong with one, if anything."""

    def check(node: Node) -> dict[str, Any]:
        if node.value is None:
            return {}
        if not isinstance(node.value, dict):
            raise wrong(node, "a mapping")
        result = {}
        for name in node.value:
            problem = key(name)
            if problem:
                raise node.at(name).error(problem)
            result[name] = value(node.at(name))
        return result

    return check


def record(
    fields: Mapping[str, Schema], required: tuple[str, ...] = (), what: str = "field"
) -> Callable[[Node], dict[str, Any]]:
    """A mapping with declared keys: the checked value of each key present."""

    def check(node: Node) -> dict[str, Any]:
        if not isinstance(node.value, dict):  # an empty `key:` too: wrap in optional() for {}
            raise wrong(node, "a mapping")
        result = {}
        for name in node.value:
            if name not in fields:
                raise node.at(name).error(unknown(str(name), sorted(fields), what))
            result[name] = fields[name](node.at(name))
        for name in required:
            if name not in result:
                raise node.error(f"missing required field {name!r}")
        return result

    return check


def unknown(key: str, known: list[str], what: str = "field") -> str:
    """ "unknown field 'X' (did you mean 'Y'?); the fields are: ..." with every name."""
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {key!r}{hint}; the {what}s are: {', '.join(known)}"


def shorthand(key: str, schema: Schema) -> Schema:
    """A bare string stands for {key: string}: `- redis://a:6379`, `discover: cluster`."""
    return lambda node: schema(
        dataclasses.replace(node, value={key: node.value}) if isinstance(node.value, str) else node
    )


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _short(value: Any) -> str:
    """A value as an error may repeat it: scalars only, and not at length."""
    if isinstance(value, dict | list) or value is None:
        return kind(value)
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


@dataclasses.dataclass(frozen=True, slots=True)
class Bounds:
    """The range a duration must fall in, in seconds: no zero, no NaN, no forever."""

    low: float
    high: float

    def describe(self) -> str:
        return f"between {_human(self.low)} and {_human(self.high)}"


def _human(seconds: float) -> str:
    for unit, size in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{seconds / size:g}{unit}"
    return f"{seconds * 1000:g}ms"


ANY_DURATION = Bounds(0.001, 86_400.0)


def parse_duration(value: Any, bounds: Bounds = ANY_DURATION) -> float:
    """'5s', '250ms', '1m' or a number of seconds -> seconds, within `bounds`."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"must be a duration, not {kind(value)}")
    if isinstance(value, str):
        text = value.strip()
        match = _DURATION.match(text) if len(text) < 64 else None
        if not match:
            written = f"{bounds.describe()} (as 250ms, 5s, 1m or 1h)"
            raise ValueError(out_of_range("a duration", written, _short(value)))
        seconds, shown = _seconds(match), text
    else:
        seconds, shown = (float(value) if _finite(value) else math.inf), _short(value)
    if not (math.isfinite(seconds) and bounds.low <= seconds <= bounds.high):
        raise ValueError(out_of_range("a duration", bounds.describe(), shown))
    return seconds


def _seconds(match: re.Match[str]) -> float:
    """A matched duration in seconds: a bare number is seconds, else the sum of its parts."""
    body = match.group(2)
    parts = _PART.findall(body)
    total = sum(float(number) * _UNITS[unit] for number, unit in parts) if parts else float(body)
    return -total if match.group(1) == "-" else total


def out_of_range(wanted: str, between: str, shown: object) -> str:
    """'must be a duration between 1ms and 10m, not 0s': one wording for every range."""
    return f"must be {wanted} {between}, not {shown}"


def duration(bounds: Bounds) -> Schema:
    """A duration ('5s', '250ms', or seconds) within `bounds`, in seconds."""
    return via(lambda value: parse_duration(value, bounds), anything)
