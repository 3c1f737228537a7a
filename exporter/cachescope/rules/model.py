"""Rule templates: an alert or a recording rule whose text has `@{param}` placeholders.

`@{name}` is replaced by the parameter's value, `@{name|filter}` by a formatted
value (see FILTERS). `@` is free in PromQL and Go templates, so templates need
no escaping of `{}` or `{{ }}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

SEVERITIES = ("critical", "warning", "info")
PLACEHOLDER = re.compile(r"@\{(\w+)(?:\|(\w+))?\}")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class Alert(NamedTuple):
    """One alert; its `for`, severity and parameters come from the thresholds file."""

    name: str
    expr: str
    summary: str
    description: str


class Recording(NamedTuple):
    """One recording rule."""

    record: str
    expr: str


class Group(NamedTuple):
    """A named list of rules, rendered as one Prometheus rule group."""

    name: str
    rules: tuple[Alert | Recording, ...]


def duration_seconds(text: str) -> int:
    """'1h30m' -> 5400; raises ValueError for anything else."""
    match = _DURATION.match(str(text))
    if not text or match is None:
        shown = repr(text) if len(str(text)) <= 40 else repr(str(text)[:37] + "...")
        raise ValueError(f"must be a duration such as 30s, 5m, 1h or 1d, not {shown}")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _number(value: Any) -> str:
    """A number as PromQL and people write it: 0.8, 10, 1073741824."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _binary(value: Any) -> str:
    """Bytes in binary units, as in the descriptions: 1073741824 -> '1GiB'."""
    number = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(number) < 1024 or unit == "TiB":
            return f"{_number(round(number, 1))}{unit}"
        number /= 1024
    raise AssertionError("unreachable")


FILTERS: dict[str, Callable[[Any], str]] = {
    "pct": lambda value: f"{_number(round(float(value) * 100, 2))}%",
    "seconds": lambda value: str(duration_seconds(value)),
    "bytes": _binary,
}


def fill(template: str, params: Mapping[str, Any]) -> str:
    """Substitute every placeholder; a missing parameter raises KeyError naming it."""

    def replace(match: re.Match[str]) -> str:
        name, filter_name = match.group(1), match.group(2)
        if name not in params:
            raise KeyError(name)
        value = params[name]
        return FILTERS[filter_name](value) if filter_name else _number(value)

    return PLACEHOLDER.sub(replace, template)


def first_events(counter: str, uptime: str) -> str:
    """`increase(counter[5m]) > 0`, that also catches a counter born above 0 after a restart.

    The exporter reports the counter at 0 before its first event, so increase() sees the
    0 -> 1 step. A series that first appears above 0 (the server restarted while nobody
    scraped it) counts only while the server is up less than the window: every event it
    counts then falls inside the window. A series that appears above 0 on a server up for
    longer (an exporter restart) holds old events, and stays quiet.
    """
    return f"increase({counter}[5m]) > 0\nor ({counter} > 0 and on (job, instance) {uptime} < 300)"


def placeholders(template: str) -> set[str]:
    """Names of the parameters a template uses."""
    return {match.group(1) for match in PLACEHOLDER.finditer(template)}
