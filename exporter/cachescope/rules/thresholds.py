"""Load the thresholds file: defaults from rules/thresholds.yml, optionally overridden.

The defaults are also the schema: an override may only hold keys the defaults have,
with values of the same kind, and every error names the file, line and field.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

from cachescope.config.schema import (
    Node,
    Schema,
    anything,
    boolean,
    mapping_of,
    nonempty_text,
    number,
    one_of,
    out_of_range,
    record,
    wrong,
)
from cachescope.config.yamlmarks import FieldPath, MarkedYAML, load_yaml_file
from cachescope.rules import render
from cachescope.rules.model import SEVERITIES, duration_seconds

# The file sits at the top of a source checkout, next to the rendered rules.
# Shipped inside the package (so wheels and the image have it); rules/thresholds.yml
# in the repository is a link to it.
DEFAULT_FILE = Path(__file__).resolve().parent / "thresholds.yml"
_FREE_FORM = {("kubernetes", "labels")}  # mappings whose keys the user chooses
_DURATION_KEYS = {"for", "window", "warmup", "lookback", "within"}
_SPANS = {"window", "lookback", "within"}  # a span of 0s holds nothing: the alert never fires
# promtool refuses a duration past its range (about 292 years) and no alert here waits or
# looks back more than a month: anything longer is a typo, caught here with its line.
_LONGEST, _LONGEST_TEXT = 30 * 86_400, "30d"
_GROWTH = {"factor"}  # "N times the usual": at 1 or below, the usual itself is a spike


@cache
def _ratios() -> frozenset[tuple[str, str]]:
    """(alert, parameter) pairs whose value is a ratio: the rules show them as a percent."""
    return frozenset(render.ratio_parameters())


def read(path: Path | str) -> MarkedYAML:
    """Parse a thresholds file, keeping line numbers for errors."""
    doc = load_yaml_file(str(path), "thresholds file")
    if not isinstance(doc.data, dict):
        raise wrong(Node.root(doc), "a mapping")
    return doc


def load(override: Path | str | None = None, defaults: Path | str = DEFAULT_FILE) -> dict[str, Any]:
    """The defaults, checked, with `override` (if any) checked against them and merged in."""
    base = read(defaults)
    schema = _schema(base.data, ())
    schema(Node.root(base))
    data = copy.deepcopy(base.data)
    if override is not None:
        doc = read(override)
        schema(Node.root(doc))
        _merge(data, doc.data, ())
        _check_levels(doc, data)
    return data


def _check_levels(doc: MarkedYAML, data: dict[str, Any]) -> None:
    """A warning threshold on the near side of its critical one, as the alert fires."""
    from cachescope.alerts import BY_NAME

    for name, entry in data["alerts"].items():
        warning, critical = entry.get("warning"), entry.get("critical")
        if not (isinstance(warning, dict) and isinstance(critical, dict)):
            continue
        low, high = warning.get("threshold"), critical.get("threshold")
        if not isinstance(low, int | float) or not isinstance(high, int | float):
            continue
        below = BY_NAME[name].fires_below
        if (low < high) if below else (low > high):
            side = "above" if below else "below"
            raise doc.error(
                ("alerts", name, "warning", "threshold"),
                f"the warning threshold ({low:g}) must be {side} the critical one ({high:g}):"
                f" {name} fires {'below' if below else 'above'} it, warning first",
            )


def _schema(default: Any, path: FieldPath) -> Schema:
    """What a value may be, given its default: the defaults file is the schema."""
    if path in _FREE_FORM:
        return mapping_of(_string)
    if isinstance(default, dict):
        fields = {str(key): _schema(value, path + (key,)) for key, value in default.items()}
        if len(path) >= 2 and path[0] == "alerts":
            fields.setdefault("enabled", boolean)
        return record(fields, what="alert" if path == ("alerts",) else "field")
    key = path[-1] if path else ""
    if key == "severity":
        return one_of(*SEVERITIES)
    if key in _DURATION_KEYS or (isinstance(default, str) and _is_duration(default)):
        return _duration(1 if key in _SPANS else 0)
    if isinstance(default, bool):
        return boolean
    if isinstance(default, int | float):
        return _number(path)
    return nonempty_text if isinstance(default, str) else anything


def _number(path: FieldPath) -> Schema:
    """A number checked for its meaning: a ratio, a growth factor or a count."""
    if len(path) >= 3 and path[0] == "alerts" and (path[1], path[-1]) in _ratios():
        return number(lambda value: 0 <= value <= 1, "a ratio between 0 and 1 (0.8 = 80%)")
    if path[-1] in _GROWTH:
        return number(lambda value: value > 1, "a number above 1 (3 = three times the usual)")
    return number(lambda value: value >= 0, "a number from 0 up")


def _string(node: Node) -> str:
    if not isinstance(node.value, str):
        raise wrong(node, "a string")
    return node.value


def _duration(low: int) -> Schema:
    """A duration as PromQL writes it ('5m', '1h30m'), from `low` seconds to 30d, as written."""

    def check(node: Node) -> str:
        if not isinstance(node.value, str):
            raise wrong(node, "a duration")
        # A minus is read so that -5m is reported as out of range, like 0s for a span.
        sign = -1 if node.value.startswith("-") else 1
        try:
            seconds = sign * duration_seconds(node.value.removeprefix("-"))
        except ValueError as exc:
            raise node.error(str(exc)) from None
        if not low <= seconds <= _LONGEST:
            between = f"between {low}s and {_LONGEST_TEXT}"
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            raise node.error(out_of_range("a duration", between, shown))
        return node.value

    return check


def _is_duration(text: str) -> bool:
    try:
        duration_seconds(text)
    except ValueError:
        return False
    return True


def _merge(base: dict[str, Any], override: dict[str, Any], path: FieldPath) -> None:
    for key, value in override.items():
        nested = isinstance(value, dict) and isinstance(base.get(key), dict)
        if nested and path + (key,) not in _FREE_FORM:  # free-form mappings are replaced
            _merge(base[key], value, path + (key,))
        else:
            base[key] = value
