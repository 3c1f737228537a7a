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

import itertools
import math
import re
from array import array

from cachescope.textcache import TextCache

COUNTER = "counter"
GAUGE = "gauge"
SUMMARY = "summary"
UNTYPED = "untyped"

Labels = tuple[tuple[str, str], ...]
Sample = tuple[str, str, float]  # (name suffix, rendered labels like '{cmd="get"}', value)
About = tuple[str, str, str]  # (name, type, help) of a family


class Family:
    """One metric family of a MetricSet: a name, a type, a help text and its sample lines."""

    __slots__ = ("name", "type", "help", "lines")

    def __init__(self, name: str, type_: str, help_: str, lines: list[str]) -> None:
        self.name = name
        self.type = type_
        self.help = help_
        self.lines = lines

    @property
    def samples(self) -> list[Sample]:
        """The samples read back from their lines, for readers that want numbers."""
        return [_read_line(self.name, line) for line in self.lines]


def _read_line(name: str, line: str) -> Sample:
    head, _, value = line.rstrip("\n").rpartition(" ")
    brace = head.find("{")
    if brace < 0:
        return head[len(name) :], "", float(value)
    return head[len(name) : brace], head[brace:], float(value)


class MetricSet:
    """Samples of one scrape, grouped into families by name.

    A sample is rendered to its exposition line when it is added: a scrape
    adds hundreds of samples and renders each exactly once, so keeping their
    numbers and labels for a second pass would only cost time. `families()`
    reads them back for the few callers that want numbers.
    """

    def __init__(self, base_labels: Labels = ()) -> None:
        self.base_labels = base_labels
        base = join_labels(base_labels)
        self._plain = "{" + base + "}" if base else ""  # the labels of an unlabelled sample
        self._prefix = "{" + base + "," if base else "{"
        self._lines: dict[str, list[str]] = {}
        self._about: dict[str, About] = {}

    def labels(self, labels: Labels) -> str:
        """Rendered labels of a sample, base labels included: '{instance="a",cmd="get"}'."""
        if not labels:
            return self._plain
        return self._prefix + join_labels(labels) + "}"

    @property
    def prefix(self) -> str:
        """The start of a labelled sample's labels, base labels included: '{instance="a",'."""
        return self._prefix

    def lines(self, name: str, type_: str, help_: str) -> list[str]:
        """The sample lines of family `name`, created if needed, for bulk emitters.

        A caller appends whole lines, 'name{labels} value\n', labels from `labels()`:
        one list append per sample where a scrape adds hundreds. A family left
        empty is left out of the output, `families()` and `get()`.
        """
        lines = self._lines.get(name)
        if lines is None:
            lines = self._lines[name] = []
            self._about[name] = (name, type_, help_)
        return lines

    def add(self, name: str, type_: str, help_: str, value: float, labels: Labels = ()) -> None:
        """Add one sample to the family `name`, creating the family if needed."""
        # The hottest lines of a scrape, once per sample: lines() is written out here.
        lines = self._lines.get(name)
        if lines is None:
            lines = self._lines[name] = []
            self._about[name] = (name, type_, help_)
        rendered = self._prefix + join_labels(labels) + "}" if labels else self._plain
        text = str(value) if value.__class__ is int else format_value(value)
        lines.append(f"{name}{rendered} {text}\n")

    def add_text(
        self, name: str, type_: str, help_: str, text: str, rendered: str | None = None
    ) -> None:
        """Add a sample whose value is already text Prometheus reads ('1024'), and whose
        labels, if any, come from `labels()`."""
        labels = self._plain if rendered is None else rendered
        self.lines(name, type_, help_).append(f"{name}{labels} {text}\n")

    def add_texts(self, samples: list[tuple[About, str]], rendered: str | None = None) -> None:
        """Add samples as (family, value as text) pairs, all with the labels `rendered`
        from `labels()`, or none of their own.

        For INFO's hundred-odd plain fields: one call rather than one per field.
        """
        families, about = self._lines, self._about
        labels = self._plain if rendered is None else rendered
        for family, text in samples:
            name = family[0]
            lines = families.get(name)
            if lines is None:
                families[name] = [f"{name}{labels} {text}\n"]
                about[name] = family
            else:
                lines.append(f"{name}{labels} {text}\n")

    def merge(self, other: MetricSet) -> None:
        """Append the samples of `other` to the families of this set."""
        for name, lines in other._lines.items():
            if lines:
                self.lines(*other._about[name]).extend(lines)

    def sample_count(self) -> int:
        return sum(map(len, self._lines.values()))

    def families(self) -> list[Family]:
        return [Family(*self._about[name], lines) for name, lines in self._lines.items() if lines]

    def get(self, name: str) -> Family | None:
        lines = self._lines.get(name)
        return Family(*self._about[name], lines) if lines else None

    def encode(self) -> bytes:
        """The whole set in the text format, encoded.

        Family by family: one µ in a help text would slow encoding a single joined string.
        """
        about, headers = self._about, _HEADERS
        pieces: list[bytes] = []
        for name, lines in self._lines.items():
            if lines:
                pieces.append(headers.get(about[name]) or _header(about[name]))
                pieces.append("".join(lines).encode())
        return b"".join(pieces)

    def rendered(self) -> Rendered:
        """The set as one block of text, with where each family ends: for Joined."""
        names, texts = [], []
        for name, lines in self._lines.items():
            if lines:
                names.append(name)
                texts.append("".join(lines))
        whole = "".join(texts)
        if whole.isascii():  # the usual case: one encode, and lengths of str are of bytes
            blob = whole.encode("ascii")
            lengths = [len(text) for text in texts]
        else:
            encoded = [text.encode() for text in texts]
            blob = b"".join(encoded)
            lengths = [len(piece) for piece in encoded]
        ends = array("L", itertools.accumulate(lengths))
        return Rendered(_shape(tuple(names), self._about), ends, blob)


class Shape:
    """Which families a rendered set has, in order, their HELP/TYPE lines and positions.

    Targets of one kind render the same families scrape after scrape: they share one
    Shape, so a fleet's response keeps one small index per target, not one per family.
    """

    __slots__ = ("names", "headers", "index")

    def __init__(self, names: tuple[str, ...], headers: tuple[bytes, ...]) -> None:
        self.names = names
        self.headers = headers
        self.index = {name: position for position, name in enumerate(names)}


class Rendered:
    """One target's families as one bytes object: long-lived pieces of a fleet's response
    in few large blocks, rather than thousands of small objects that fragment the heap."""

    __slots__ = ("shape", "ends", "blob")

    def __init__(self, shape: Shape, ends: array[int], blob: bytes) -> None:
        self.shape = shape
        self.ends = ends  # where each family's text ends in blob
        self.blob = blob


# A fleet has a few dozen shapes (versions, modes, modules) of a few hundred families.
_SHAPES: TextCache[tuple[str, ...], Shape] = TextCache(1000, 16 << 20)


def _shape(names: tuple[str, ...], about: dict[str, About]) -> Shape:
    shape = _SHAPES.get(names)
    if shape is None:
        shape = Shape(names, tuple(_header(about[name]) for name in names))
        # A name costs its text, its header, a slot in the tuples and in the index.
        chars = sum(map(len, names)) + sum(map(len, shape.headers)) + 120 * len(names)
        _SHAPES.remember(names, shape, chars)
    return shape


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
        about = (metric_name(prefix, field), UNTYPED, help_)
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
_HEADERS: TextCache[About, bytes] = TextCache(50_000, 8 << 20)


def _header(about: About) -> bytes:
    text = _HEADERS.get(about)
    if text is None:
        name, type_, help_ = about
        text = f"# HELP {name} {_escape_help(help_)}\n# TYPE {name} {type_}\n".encode()
        _HEADERS.remember(about, text, len(text) + len(name) + len(help_))
    return text


def render_bytes(metrics: MetricSet) -> bytes:
    """Render a metric set in the Prometheus text format, version 0.0.4."""
    return metrics.encode()


def render(metrics: MetricSet) -> str:
    return metrics.encode().decode()
