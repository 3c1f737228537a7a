"""Frames between the main process and its scrape workers, over a socket pair.

A frame is two lengths, a pickled index (an Order, or a Report of what the data
holds: the records below), then raw data: a worker's rendered text goes out with
scatter-gather, straight from the pieces its threads rendered, and comes in as
one buffer that the main process slices by family, rather than as thousands of
pickled objects.
"""

from __future__ import annotations

import itertools
import pickle
import socket
import struct
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

from cachescope.config.records import TargetConfig
from cachescope.exposition.joined import Chunk, Sizes
from cachescope.exposition.textformat import Labels
from cachescope.scrape.state import Outcome

_FRAME = struct.Struct("!QQ")  # lengths of the pickled index and of the raw data after it
_IOV_MAX = 1024  # buffers per sendmsg call

# What the pickled index of a frame holds. Defined here, not in worker.py: a
# worker runs that module as __main__, where the main process' unpickler cannot find them.


class Job(NamedTuple):
    """What a worker is asked to scrape: one target, and how."""

    target: TargetConfig
    labels: Labels
    persistent: bool  # keep the connection between scrapes
    max_series: int


class Counts(NamedTuple):
    """A target's counters so far, for a worker that takes it over to count on from."""

    scrapes: int
    errors: dict[str, int]  # failed scrapes by kind of error


class Order(NamedTuple):
    """The main process' request: scrape the jobs held, after replacing them if given."""

    jobs: list[Job] | None  # None: the same as last time
    counts: dict[str, Counts] | None  # by target name, with new jobs
    budget: float | None = None  # seconds the scrape may take (Prometheus' timeout), if given


class Outcomes(NamedTuple):
    """Each scrape's outcome since the last report, with its job's position, in columns.

    Columns, not an Outcome per scrape: a NamedTuple pickles through a Python call
    per object, which made a worker's report of 250 outcomes five times slower to
    pickle; a few lists of floats and strings pickle as fast as plain tuples.
    """

    positions: list[int]
    up: list[float]
    times: list[float]
    durations: list[float]
    errors: list[str]
    messages: list[str]

    @classmethod
    def empty(cls) -> Outcomes:
        return cls([], [], [], [], [], [])

    def add(self, position: int, outcome: Outcome) -> None:
        """Append the outcome of a scrape of the job at `position`."""
        self.positions.append(position)
        self.up.append(outcome.up)
        self.times.append(outcome.time)
        self.durations.append(outcome.duration)
        self.errors.append(outcome.error)
        self.messages.append(outcome.message)

    def records(self) -> list[Outcome]:
        """The outcomes, in the order of `positions`."""
        columns = (self.up, self.times, self.durations, self.errors, self.messages)
        return list(map(Outcome, *columns))


class Report(NamedTuple):
    """A worker's answer; the families' samples follow it in the frame, in this order."""

    families: Sizes  # name, header and size of each family's samples
    outcomes: Outcomes


class Frame(NamedTuple):
    """A frame as received: its unpickled index and the raw data after it."""

    index: Any
    data: memoryview


def send_frame(
    sock: socket.socket, index: object, chunks: Iterable[Chunk] = (), size: int = 0
) -> None:
    """Send `index` pickled, then `size` bytes of data, taken from `chunks` as they come."""
    pickled = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
    _send_all(sock, [_FRAME.pack(len(pickled), size), pickled])
    pending = iter(chunks)
    while batch := list(itertools.islice(pending, _IOV_MAX)):
        _send_all(sock, batch)


def _send_all(sock: socket.socket, buffers: list[Chunk]) -> None:
    start = 0
    while start < len(buffers):
        sent = sock.sendmsg(buffers[start:])
        while start < len(buffers) and sent >= len(buffers[start]):
            sent -= len(buffers[start])
            start += 1
        if sent:  # part of a buffer went: the rest of it leads the next call
            buffers[start] = memoryview(buffers[start])[sent:]


def recv_frame(sock: socket.socket, deadline: float | None) -> Frame:
    index_length, data_length = _FRAME.unpack(_recv_exact(sock, _FRAME.size, deadline))
    index = pickle.loads(_recv_exact(sock, index_length, deadline))
    return Frame(index, _recv_exact(sock, data_length, deadline))


def _recv_exact(sock: socket.socket, size: int, deadline: float | None) -> memoryview:
    view = memoryview(bytearray(size))
    got = 0
    while got < size:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("timed out")
            sock.settimeout(remaining)
        count = sock.recv_into(view[got:])
        if not count:
            raise EOFError("the other end closed the connection")
        got += count
    return view
