"""Load the thresholds file: defaults from rules/thresholds.yml, optionally overridden.

The defaults are also the schema: an override may only hold keys the defaults have,
with values of the same kind, and every error names the file, line and field.
"""

from __future__ import annotations

import copy
import difflib
import math
from functools import cache
from pathlib import Path
from typing import Any

from cachescope.rules import render
from cachescope.rules.model import SEVERITIES, duration_seconds
from cachescope.yamlmarks import MarkedYAML, load_yaml_file
from cachescope.yamlmarks import Path as FieldPath

# The file sits at the top of a source checkout, next to the rendered rules.
# Shipped inside the package (so wheels and the image have it); rules/thresholds.yml
# in the repository is a link to it.
DEFAULT_FILE = Path(__file__).resolve().parent / "thresholds.yml"
_FREE_FORM = {("kubernetes", "labels")}  # mappings whose keys the user chooses
_DURATION_KEYS = {"for", "window", "warmup", "lookback", "within"}
_SPANS = {"window", "lookback", "within"}  # a span of 0s holds nothing: the alert never fires
_GROWTH = {"factor"}  # "N times the usual": at 1 or below, the usual itself is a spike


@cache
def _ratios() -> frozenset[tuple[str, str]]:
    """(alert, parameter) pairs whose value is a ratio: the rules show them as a percent."""
    return frozenset(render.ratio_parameters())


def read(path: Path | str) -> MarkedYAML:
    """Parse a thresholds file, keeping line numbers for errors."""
    doc = load_yaml_file(str(path), "thresholds file")
    if not isinstance(doc.data, dict):
        raise doc.error((), "a thresholds file must be a mapping")
    return doc


def load(override: Path | str | None = None, defaults: Path | str = DEFAULT_FILE) -> dict[str, Any]:
    """The defaults, checked, with `override` (if any) checked against them and merged in."""
    base = read(defaults)
    _check(base, base.data, base.data, ())
    data = copy.deepcopy(base.data)
    if override is not None:
        doc = read(override)
        _check(doc, doc.data, base.data, ())
        _merge(data, doc.data, ())
        _check_levels(doc, data)
    return data


def _check_levels(doc: MarkedYAML, data: dict[str, Any]) -> None:
    """A warning threshold on the near side of its critical one, as the alert fires."""
    from cachescope.alerts import BY_NAME  # the registry imports the rule model: not at load

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


def _check(doc: MarkedYAML, value: Any, default: Any, path: FieldPath) -> None:
    if path[-1:] == ("enabled",) and len(path) == 3 and path[0] == "alerts":
        if not isinstance(value, bool):
            raise doc.error(path, "must be true or false")
        return
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise doc.error(path, "must be a mapping")
        if path in _FREE_FORM:
            for key, item in value.items():
                if not isinstance(item, str):
                    raise doc.error(path + (key,), "must be a string")
            return
        for key, item in value.items():
            if key not in default and not (key == "enabled" and path[:1] == ("alerts",)):
                raise doc.error(path + (key,), _unknown(str(key), path, sorted(default)))
            _check(doc, item, default.get(key, True), path + (key,))
        return
    _check_scalar(doc, value, default, path)


def _unknown(key: str, path: FieldPath, known: list[str]) -> str:
    """'unknown alert 'X' (did you mean 'Y'?); the alerts are: ...' with every name."""
    what = "alert" if path == ("alerts",) else "field"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {what} {key!r}{hint}; the {what}s are: {', '.join(known)}"


def _check_scalar(doc: MarkedYAML, value: Any, default: Any, path: FieldPath) -> None:
    key = path[-1] if path else ""
    if key == "severity":
        if value not in SEVERITIES:
            raise doc.error(path, f"must be one of {', '.join(SEVERITIES)}, not {value!r}")
    elif key in _DURATION_KEYS or (isinstance(default, str) and _is_duration(default)):
        try:
            seconds = duration_seconds(value)
        except ValueError as exc:
            raise doc.error(path, str(exc)) from None
        if key in _SPANS and seconds <= 0:
            raise doc.error(path, f"must be a duration above 0s, not {value!r}")
    elif isinstance(default, bool) or isinstance(value, bool):
        if type(value) is not type(default):
            raise doc.error(
                path, f"must be {'true or false' if isinstance(default, bool) else 'a number'}"
            )
    elif isinstance(default, int | float):
        problem = _number_problem(value, path)
        if problem:
            raise doc.error(path, f"{problem}, not {value!r}")
    elif isinstance(default, str) and (not isinstance(value, str) or not value.strip()):
        raise doc.error(path, "must be a non-empty string")


def _number_problem(value: Any, path: FieldPath) -> str | None:
    """What is wrong with a number for its meaning (ratio, count, factor), or None."""
    # NaN compares false with everything, so a range check alone would let it through.
    if not isinstance(value, int | float) or not -math.inf < value < math.inf:
        return "must be a finite number"
    if len(path) >= 3 and path[0] == "alerts" and (path[1], path[-1]) in _ratios():
        if not 0 <= value <= 1:
            return "must be a ratio from 0 to 1 (0.8 = 80%)"
    elif path[-1] in _GROWTH:
        if value <= 1:
            return "must be a number above 1 (3 = three times the usual)"
    elif value < 0:
        return "must be a number from 0 up"
    return None


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
