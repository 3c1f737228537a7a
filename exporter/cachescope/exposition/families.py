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
from array import array
from collections.abc import Iterable, Sequence
from typing import NamedTuple, NewType

from cachescope.exposition.textformat import (
    _HEADERS,
    _RENDERED,
    About,
    Labels,
    _header,
    escape_label,
    format_value,
    join_labels,
)
from cachescope.textcache import TextCache

# A label set rendered by MetricSet.labels, '{instance="a",cmd="get"}': opaque to collectors,
# which pass it to a family's add_text to share one rendering among several families.
LabelText = NewType("LabelText", str)
# The rendered quantile samples of one summary, from `quantiles()`: opaque to collectors.
Quantiles = NewType("Quantiles", tuple[str, ...])


class Sample(NamedTuple):
    """One parsed line of a scrape."""

    suffix: str  # after the family's name: "", "_total", "_sum", ...
    labels: str  # rendered, like '{cmd="get"}'
    value: float


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
        return Sample(head[len(name) :], "", float(value))
    return Sample(head[len(name) : brace], head[brace:], float(value))


class MetricSet:
    """Samples of one scrape, grouped into families by name.

    A sample is rendered to its exposition line when it is added: a scrape
    adds hundreds of samples and renders each exactly once, so keeping their
    numbers and labels for a second pass would only cost time. `families()`
    reads them back for the few callers that want numbers. Only this module
    writes exposition text: collectors hand over values, labels as pairs, and
    families through `family()`.
    """

    def __init__(self, base_labels: Labels = ()) -> None:
        self._set_base(base_labels)
        self._lines: dict[str, list[str]] = {}
        # A plain tuple per family, as About is read: built for every family of every
        # scrape, where a NamedTuple's constructor would cost a few percent of one.
        self._about: dict[str, tuple[str, str, str]] = {}

    def _set_base(self, base_labels: Labels) -> None:
        self.base_labels = base_labels
        base = join_labels(base_labels)
        self._plain = LabelText("{" + base + "}" if base else "")  # of an unlabelled sample
        self._prefix = "{" + base + "," if base else "{"

    def rebase(self, base_labels: Labels) -> None:
        """Change the labels every sample gets; only before the first is added.

        For labels a collector learns from the server (Redis' role) before it adds samples.
        """
        if any(self._lines.values()):
            raise ValueError("samples were already rendered with the old base labels")
        self._set_base(base_labels)

    def labels(self, labels: Labels) -> LabelText:
        """A label set rendered once, base labels included, for several samples to share."""
        if not labels:
            return self._plain
        # join_labels, with its cache hit written out: once per label set of a scrape.
        # And not LabelText(...): a call per label set would show, too.
        joined = _RENDERED.get(labels) or join_labels(labels)
        return self._prefix + joined + "}"  # type: ignore[return-value]

    def family(self, name: str, type_: str, help_: str) -> FamilyWriter:
        """The family `name`, created if needed: obtain it once, then add its samples.

        A family left empty is left out of the output, `families()` and `get()`.
        """
        lines = self._lines.get(name)
        if lines is None:
            lines = self._lines[name] = []
            self._about[name] = (name, type_, help_)
        return FamilyWriter(name, lines, self)

    def add(self, name: str, type_: str, help_: str, value: float, labels: Labels = ()) -> None:
        """Add one sample to the family `name`, creating the family if needed."""
        # The hottest lines of a scrape, once per sample: family() is written out here.
        lines = self._lines.get(name)
        if lines is None:
            lines = self._lines[name] = []
            self._about[name] = (name, type_, help_)
        if labels:
            rendered = self._prefix + (_RENDERED.get(labels) or join_labels(labels)) + "}"
        else:
            rendered = self._plain
        text = str(value) if value.__class__ is int else format_value(value)
        lines.append(f"{name}{rendered} {text}\n")

    def add_numbers(
        self, samples: list[tuple[About, str]], labels: LabelText | None = None
    ) -> None:
        """Add samples as (family, number as the server wrote it) pairs, with `labels`.

        For INFO's hundred-odd plain fields: one call rather than one per field.
        Each number is text Prometheus reads as it is ('1024', '0.5'): the server's
        text where the caller found it a plain decimal, else from `number_text`.
        """
        families, about = self._lines, self._about
        rendered = self._plain if labels is None else labels
        for family, text in samples:
            name = family[0]
            lines = families.get(name)
            if lines is None:
                families[name] = [f"{name}{rendered} {text}\n"]
                about[name] = family
            else:
                lines.append(f"{name}{rendered} {text}\n")

    def merge(self, other: MetricSet) -> None:
        """Append the samples of `other` to the families of this set."""
        for name, lines in other._lines.items():
            if lines:
                self.family(*other._about[name])._lines.extend(lines)

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


class FamilyWriter:
    """A handle on one family of a MetricSet: it writes its own name and label text.

    calls = metrics.family("redis_commands_total", COUNTER, "Calls per command.")
    calls.add(100, (("cmd", "get"),))  # redis_commands_total{cmd="get"} 100
    """

    __slots__ = ("name", "_lines", "_metrics", "_plain")

    def __init__(self, name: str, lines: list[str], metrics: MetricSet) -> None:
        self.name = name
        self._lines = lines  # the family's sample lines in its MetricSet
        self._metrics = metrics
        self._plain = metrics._plain

    def add(self, value: float, labels: Labels = ()) -> None:
        """Add a sample of `value` with `labels` (base labels come on their own)."""
        text = str(value) if value.__class__ is int else format_value(value)
        self._lines.append(f"{self.name}{self._metrics.labels(labels)} {text}\n")

    def add_text(self, number: str, labels: LabelText | None = None) -> None:
        """Add a sample whose value is number text Prometheus reads ('1024', '0.5'), as
        `number_text` returns it, with a label set from MetricSet.labels."""
        self._lines.append(f"{self.name}{self._plain if labels is None else labels} {number}\n")

    def add_each(self, number: str, label_sets: Iterable[Labels]) -> None:
        """Add a sample of the same number text ('0') for each label set."""
        name, prefix, rendered = self.name, self._metrics._prefix, _RENDERED
        for labels in label_sets:  # MetricSet.labels, written out: a loop of a dozen or more
            self._lines.append(
                f"{name}{prefix}{rendered.get(labels) or join_labels(labels)}}} {number}\n"
            )

    def add_summary(self, labels: LabelText, quantiles: Quantiles, sum_: str, count: str) -> None:
        """Add one summary: its quantile samples, then `_sum` and `_count` (number text)."""
        name, lines = self.name, self._lines
        opened = f"{name}{labels[:-1]}," if labels else name + "{"
        for tail in quantiles:  # a loop: cheaper here than a comprehension's frame or map
            lines.append(opened + tail)
        lines.append(f"{name}_sum{labels} {sum_}\n")
        lines.append(f"{name}_count{labels} {count}\n")

    def add_histogram(
        self,
        labels: LabelText,
        bounds: tuple[int, ...],
        counts: Sequence[int],
        sum_: float,
        count: int,
    ) -> None:
        """Add one histogram: cumulative counts by upper bound, then `+Inf`, `_sum`, `_count`."""
        name = self.name
        tails = _LE_TAILS.get(bounds)
        if tails is None:  # a few ladders at most: Redis' own, and whatever a server prints
            tails = tuple(f'le="{bound}"}} ' for bound in (*bounds, "+Inf"))
            if len(_LE_TAILS) < 64:
                _LE_TAILS[bounds] = tails
        # Only the `le` part is kept, not whole prefixes: a prefix per target and command
        # made 28,000 of them at 1,000 targets, and a cache that size missed every scrape.
        head = f"{name}_bucket{labels[:-1]}," if labels else name + "_bucket{"
        self._lines += [
            f"{head}{tail}{number}\n" for tail, number in zip(tails, (*counts, count), strict=True)
        ]
        self._lines.append(f"{name}_sum{labels} {format_value(sum_)}\n")
        self._lines.append(f"{name}_count{labels} {count}\n")


# The `le="..."} ` parts of histogram samples, by bounds.
_LE_TAILS: dict[tuple[int, ...], tuple[str, ...]] = {}


def quantiles(pairs: list[tuple[str, str]]) -> Quantiles:
    """The quantile samples of a summary, from (quantile, number text) pairs."""
    return Quantiles(
        tuple(f'quantile="{escape_label(quantile)}"}} {text}\n' for quantile, text in pairs)
    )


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


def _shape(names: tuple[str, ...], about: dict[str, tuple[str, str, str]]) -> Shape:
    shape = _SHAPES.get(names)
    if shape is None:
        shape = Shape(names, tuple(_header(about[name]) for name in names))
        # A name costs its text, its header, a slot in the tuples and in the index.
        chars = sum(map(len, names)) + sum(map(len, shape.headers)) + 120 * len(names)
        _SHAPES.remember(names, shape, chars)
    return shape


def render_bytes(metrics: MetricSet) -> bytes:
    """Render a metric set in the Prometheus text format, version 0.0.4."""
    return metrics.encode()


def render(metrics: MetricSet) -> str:
    return metrics.encode().decode()
