"""How values, label sets and help texts become text of the exposition format.

Only families.py uses these to write lines; collectors use `number_text` and
`format_value` to hand over numbers as text Prometheus reads, and `unnamed` for
fields we have no name for. What repeats every scrape (label sets, HELP and TYPE
lines, names of unnamed fields) is rendered once and kept in bounded caches.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from cachescope.textcache import TextCache

COUNTER = "counter"
GAUGE = "gauge"
HISTOGRAM = "histogram"
SUMMARY = "summary"
UNTYPED = "untyped"

Labels = tuple[tuple[str, str], ...]


class About(NamedTuple):
    """What a family's HELP and TYPE lines say."""

    name: str
    type: str
    help: str


_NOT_NAME = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(prefix: str, field: str) -> str:
    """`prefix_field`, with characters not allowed in metric names made `_`."""
    return prefix + _NOT_NAME.sub("_", field)


_UNNAMED: TextCache[tuple[str, str], About] = TextCache(10_000, 4 << 20)


def unnamed(prefix: str, field: str, source: str) -> About:
    """The untyped family of a numeric field we have no name for, like `redis_<field>`.

    Remembered per field, as fields repeat every scrape; `source` says where the
    field comes from in its help text ("INFO field", "stats field").
    """
    about = _UNNAMED.get((prefix, field))
    if about is None:
        help_ = f"{source} {field}, not yet named by cachescope."
        about = About(metric_name(prefix, field), UNTYPED, help_)
        _UNNAMED.remember((prefix, field), about, 3 * len(field) + len(help_) + len(prefix))
    return about


def escape_label(value: str) -> str:
    """A label value as exposition text: backslash, quote and newline escaped."""
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


def number_text(value: str) -> str | None:
    """A server's number as exposition text ('42', '1.003' as they are); None if not a number."""
    if value.isascii() and value.replace(".", "", 1).isdecimal():
        return value  # the common case, and text Prometheus reads as it is
    try:
        number = float(value)
    except ValueError:
        return None
    return format_value(number) if math.isfinite(number) else None


# Label sets repeat from scrape to scrape (cmd="get", db="db0", ...): rendering
# each once and looking it up afterwards halves the cost of building a scrape.
_RENDERED: TextCache[Labels, str] = TextCache(50_000, 8 << 20)


def join_labels(labels: Labels) -> str:
    """Labels as exposition text, values escaped: 'cmd="get",db="db0"'."""
    text = _RENDERED.get(labels)
    if text is None:
        text = ",".join(f'{key}="{escape_label(value)}"' for key, value in labels)
        _RENDERED.remember(labels, text, 2 * len(text) + 60 * len(labels))
    return text


# The HELP and TYPE lines of a family never change: escape and format them once.
_HEADERS: TextCache[tuple[str, str, str], bytes] = TextCache(50_000, 8 << 20)


def _header(about: tuple[str, str, str]) -> bytes:
    """HELP and TYPE lines; `about` is an About, or a plain tuple where a scrape builds one."""
    text = _HEADERS.get(about)
    if text is None:
        name, type_, help_ = about
        text = f"# HELP {name} {_escape_help(help_)}\n# TYPE {name} {type_}\n".encode()
        _HEADERS.remember(about, text, len(text) + len(name) + len(help_))
    return text
