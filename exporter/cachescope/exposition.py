"""Metric families built fresh on every scrape, and their text exposition.

A MetricSet is filled by collectors and rendered by `render`. We keep our own
small model instead of prometheus_client's families because redis_exporter
names some counters without a `_total` suffix (e.g. `redis_total_error_replies`)
and prometheus_client would rename them, breaking drop-in compatibility.

    # HELP redis_up Whether the last scrape of the target succeeded.
    # TYPE redis_up gauge
    redis_up{instance="cache-a"} 1
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

COUNTER = "counter"
GAUGE = "gauge"
SUMMARY = "summary"
UNTYPED = "untyped"

Labels = tuple[tuple[str, str], ...]
# (name suffix, rendered labels like '{cmd="get"}', value). Labels are rendered
# once when the sample is added: rendering dominates the cost of a scrape.
Sample = tuple[str, str, float]


class Family:
    """One metric family: a name, a type, a help text and its samples."""

    __slots__ = ("name", "type", "help", "samples")

    def __init__(self, name: str, type_: str, help_: str) -> None:
        self.name = name
        self.type = type_
        self.help = help_
        self.samples: list[Sample] = []


class MetricSet:
    """Samples of one scrape, grouped into families by name."""

    def __init__(self, base_labels: Labels = ()) -> None:
        self.base_labels = base_labels
        self._base = _join_labels(base_labels)
        self._plain = "{" + self._base + "}" if self._base else ""
        self._prefix = "{" + self._base + "," if self._base else "{"
        self._families: dict[str, Family] = {}

    def _labels(self, labels: Labels) -> str:
        if not labels:
            return self._plain
        return self._prefix + _join_labels(labels) + "}"

    def _family(self, name: str, type_: str, help_: str) -> Family:
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = Family(name, type_, help_)
        return family

    def add(self, name: str, type_: str, help_: str, value: float, labels: Labels = ()) -> None:
        """Add one sample to the family `name`, creating the family if needed."""
        # This is the hottest line of a scrape: one call per sample, so no helpers.
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = Family(name, type_, help_)
        rendered = self._prefix + _join_labels(labels) + "}" if labels else self._plain
        family.samples.append(("", rendered, value))

    def add_summary(
        self,
        name: str,
        help_: str,
        quantiles: Mapping[str, float],
        count: float,
        total: float,
        labels: Labels = (),
    ) -> None:
        """Add a summary: one sample per quantile, plus `_sum` and `_count`."""
        family = self._family(name, SUMMARY, help_)
        for quantile, value in quantiles.items():
            family.samples.append(("", self._labels(labels + (("quantile", quantile),)), value))
        rendered = self._labels(labels)
        family.samples.append(("_sum", rendered, total))
        family.samples.append(("_count", rendered, count))

    def merge(self, other: MetricSet) -> None:
        """Append the samples of `other` to the families of this set."""
        for family in other.families():
            self._family(family.name, family.type, family.help).samples.extend(family.samples)

    def sample_count(self) -> int:
        return sum(len(family.samples) for family in self._families.values())

    def families(self) -> Iterable[Family]:
        return self._families.values()

    def get(self, name: str) -> Family | None:
        return self._families.get(name)


_NOT_NAME = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(prefix: str, field: str) -> str:
    """`prefix_field`, with characters not allowed in metric names made `_`."""
    return prefix + _NOT_NAME.sub("_", field)


def _escape_label(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    """Format a sample value the way Prometheus' text parser reads it."""
    if value.__class__ is int:  # most INFO values: no float detour
        return str(value)
    value = float(value)
    if value.is_integer() and -1e15 < value < 1e15:
        return str(int(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


# Label sets repeat from scrape to scrape (cmd="get", db="db0", ...): rendering
# each once and looking it up afterwards halves the cost of building a scrape.
_RENDERED: dict[Labels, str] = {}
_RENDERED_MAX = 50_000


def _join_labels(labels: Labels) -> str:
    text = _RENDERED.get(labels)
    if text is None:
        if len(_RENDERED) >= _RENDERED_MAX:
            _RENDERED.clear()
        text = _RENDERED[labels] = ",".join(
            f'{key}="{_escape_label(value)}"' for key, value in labels
        )
    return text


# The HELP and TYPE lines of a family never change: escape and format them once.
_HEADERS: dict[tuple[str, str, str], bytes] = {}


def _header(family: Family) -> bytes:
    key = (family.name, family.type, family.help)
    text = _HEADERS.get(key)
    if text is None:
        if len(_HEADERS) >= _RENDERED_MAX:
            _HEADERS.clear()
        text = _HEADERS[key] = (
            f"# HELP {family.name} {_escape_help(family.help)}\n"
            f"# TYPE {family.name} {family.type}\n"
        ).encode()
    return text


Part = tuple[str, bytes, bytes]  # (family name, HELP and TYPE lines, sample lines), encoded


def render_parts(families: Iterable[Family]) -> list[Part]:
    """Each family as encoded text, ready to be joined with other targets' parts."""
    parts: list[Part] = []
    for family in families:
        if not family.samples:
            continue
        name = family.name
        lines = [
            f"{name}{suffix}{labels} {format_value(value)}\n"
            for suffix, labels, value in family.samples
        ]
        parts.append((name, _header(family), "".join(lines).encode()))
    return parts


class Joined:
    """Families rendered by many targets, joined by name: one HELP and TYPE each.

    The pieces stay separate up to the socket: a large fleet's response is
    never copied into one string, then one bytes object, then a response.
    """

    def __init__(self) -> None:
        self._families: dict[str, list[bytes]] = {}

    def add(self, parts: list[Part]) -> None:
        for name, header, body in parts:
            known = self._families.get(name)
            if known is None:
                self._families[name] = [header, body]
            else:
                known.append(body)

    def chunks(self) -> list[bytes]:
        return [chunk for pieces in self._families.values() for chunk in pieces]


def render_bytes(families: Iterable[Family]) -> bytes:
    """Render families in the Prometheus text format, version 0.0.4."""
    return b"".join(header + body for _, header, body in render_parts(families))


def render(families: Iterable[Family]) -> str:
    return render_bytes(families).decode()
