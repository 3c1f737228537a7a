"""A fleet's response: the families of many targets, joined by name, one HELP and TYPE each.

The text format wants each family's samples together, so nothing can go out
before every target is in. What waits is each target's text as one block
(`Rendered`) plus families a worker process already joined; the pieces are
sliced out and written in order only when the response goes out, never copied
into one string, then one bytes object, then a response.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import NamedTuple

from cachescope.exposition.families import Rendered

Chunk = bytes | memoryview  # a piece of a response


class JoinedFamily(NamedTuple):
    """One family of the response: its HELP and TYPE lines, its samples from every target."""

    name: str
    header: bytes
    bodies: Iterator[Chunk]


class Sizes(NamedTuple):
    """Each family's name, header and bytes of samples, in order, as parallel columns.

    Columns, not a record per family: a worker pickles this into every report,
    and three lists pickle far faster than a NamedTuple per family.
    """

    names: list[str]
    headers: list[bytes]
    sizes: list[int]


class Joined:
    def __init__(self) -> None:
        self._headers: dict[str, bytes] = {}  # every family, in the order first seen
        self._targets: list[Rendered] = []
        self._shapes: set[int] = set()  # ids of the shapes whose families are in _headers
        self._joined: dict[str, list[Chunk]] = {}  # families joined elsewhere (a worker)

    def add(self, rendered: Rendered) -> None:
        shape = rendered.shape
        if id(shape) not in self._shapes:
            self._shapes.add(id(shape))
            for name, header in zip(shape.names, shape.headers, strict=True):
                self._headers.setdefault(name, header)
        self._targets.append(rendered)

    def add_family(self, name: str, header: bytes, bodies: list[Chunk]) -> None:
        """The samples of many targets for one family, as already joined elsewhere."""
        self._headers.setdefault(name, header)
        self._joined.setdefault(name, []).extend(bodies)

    def families(self) -> Iterator[JoinedFamily]:
        """Each family with its samples from every target, in order."""
        views = [(t.shape.index, t.ends, memoryview(t.blob)) for t in self._targets]
        for name, header in self._headers.items():
            yield JoinedFamily(name, header, self._bodies(name, views))

    def _bodies(
        self, name: str, views: list[tuple[dict[str, int], array[int], memoryview]]
    ) -> Iterator[Chunk]:
        for index, ends, view in views:
            position = index.get(name)
            if position is not None:
                start = ends[position - 1] if position else 0
                yield view[start : ends[position]]
        yield from self._joined.get(name, ())

    def family_sizes(self) -> Sizes:
        """The name, HELP and TYPE lines and bytes of samples of each family, in order."""
        sizes = dict.fromkeys(self._headers, 0)
        for target in self._targets:
            start = 0
            for name, end in zip(target.shape.names, target.ends, strict=True):
                sizes[name] += end - start
                start = end
        for name, bodies in self._joined.items():
            sizes[name] += sum(len(body) for body in bodies)
        return Sizes(list(self._headers), list(self._headers.values()), list(sizes.values()))

    def size(self) -> int:
        """Bytes of the whole response body."""
        sizes = self.family_sizes()
        return sum(map(len, sizes.headers)) + sum(sizes.sizes)

    def chunks(self) -> Iterator[Chunk]:
        """The response body, piece by piece."""
        for family in self.families():
            yield family.header
            yield from family.bodies
