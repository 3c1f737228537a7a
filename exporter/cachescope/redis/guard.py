"""hiredis' reader behind a guard: announced lengths are checked before they cost memory.

hiredis keeps a bulk string in its buffer until all of it has arrived and
allocates an array at its announced length, so a peer that announces
`$9223372036854775807` or `*2147483647` and then streams data grows the process
by gigabytes in one scrape. The guard follows the RESP stream token by token
before hiredis sees it: every element, aggregate or not, is followed directly by
the next, so no nesting needs tracking. Bulk payloads are skipped by their
length, never scanned (a key named `*99999999999` is data, not a header), and a
reply that is one bulk string, like INFO, costs one header parse per round trip.

The caps also keep hostile targets from delaying healthy ones: hiredis makes a
list of an array's announced length at once, and freeing the list of an
announced 2^31 elements (when the scrape times out) holds the interpreter lock
for about 4 s, stalling every other scrape and /metrics itself.
"""

from __future__ import annotations

import re
from typing import Any

import hiredis

from cachescope.errors import ScrapeError

# The largest replies we ask for: INFO ALL of a big server (a few hundred commands
# and error kinds, 16 databases) is under 100 KiB; CLUSTER NODES of a 1000-node
# cluster with a fragmented slot map under 1 MiB; a SCAN page of COUNT 10000 with
# 1 KiB key names 10 MiB; CLIENT LIST (not sent by us) of 65,000 clients 25 MiB.
# 32 MiB in one round trip is beyond all of them, and keeps a hostile peer to
# about twice that (hiredis' buffer, then the bytes object made from it).
MAX_REPLY_BYTES = 32 << 20
# Array elements announced in one round trip, summed over nested arrays. The most
# a real server sends us: CLUSTER NODES is text; CONFIG GET, SLOWLOG GET 128 and
# LATENCY HISTOGRAM stay under 50,000; a SCAN page has COUNT keys (10,000 at
# most in our config); a sentinel watching 5,000 master sets about 250,000.
MAX_ELEMENTS = 1 << 20
# What an element costs once parsed: a small bytes object (48 bytes under pymalloc)
# and its list slot (8). On the wire a tiny element is a few bytes (`+e\r\n`), so the
# byte cap alone let a reply of arrays of tiny elements grow about eight times its
# size once parsed; each element is charged this against MAX_REPLY_BYTES as well.
ELEMENT_BYTES = 56
# "-1" to "9223372036854775807": longer is not a length, and is not kept waiting.
_MAX_HEADER = 21

_TEXT = frozenset(b"+-:")  # simple string, error, integer: a line ended by CRLF
# A run of such lines, complete: LATENCY HISTOGRAM's buckets are hundreds of integers,
# which one match skips where the loop below would take a step for each.
_TEXT_RUN = re.compile(rb"(?:[-+:][^\r\n]*\r\n)+")
_BULK = ord("$")
_ARRAY = ord("*")
_CR = ord("\r")


def _protocol(message: str) -> ScrapeError:
    return ScrapeError("protocol", message)


class GuardedReader:
    """hiredis.Reader with caps on one round trip's bytes and announced lengths.

    Only RESP2 is accepted: we never send HELLO 3, so a RESP3 type is a peer that
    does not speak to us as Redis does. Errors, hiredis' included, are ScrapeError.
    """

    __slots__ = ("_reader", "_skip", "_carry", "_in_text", "_bytes", "_elements")

    def __init__(self) -> None:
        self._reader = hiredis.Reader()
        self._skip = 0  # bytes of a bulk payload and its CRLF still to come
        self._carry = b""  # the unfinished end of the last chunk, scanned again
        self._in_text = False  # inside a simple line: only its CRLF matters
        self._bytes = 0
        self._elements = 0

    def begin(self) -> None:
        """Start the budget of a new round trip."""
        self._bytes = self._elements = 0

    def feed(self, data: bytes) -> None:
        self._bytes += len(data)
        if self._bytes > MAX_REPLY_BYTES:
            raise _protocol(f"reply longer than {MAX_REPLY_BYTES} bytes in one round trip")
        if self._elements:
            self._check_memory()
        if self._skip >= len(data):  # inside a bulk payload: the common case of INFO
            self._skip -= len(data)
        else:
            self._scan(self._carry + data if self._carry else data)
        self._reader.feed(data)

    def gets(self) -> Any:
        try:
            return self._reader.gets()
        except hiredis.ProtocolError as exc:
            raise _protocol(f"unexpected reply: {exc}") from None

    def _scan(self, data: bytes) -> None:
        pos, end = self._skip, len(data)
        self._carry, self._skip = b"", 0
        find = data.find
        if self._in_text:
            pos = find(b"\r\n")
            if pos < 0:
                self._carry = b"\r" if data[-1] == _CR else b""
                return
            self._in_text = False
            pos += 2
        while pos < end:
            kind = data[pos]
            if kind in _TEXT:
                run = _TEXT_RUN.match(data, pos)
                if run is not None:  # whole lines: skipped in one step, not one by one
                    pos = run.end()
                    continue
            line_end = find(b"\r\n", pos + 1)
            if kind in _TEXT:
                if line_end < 0:
                    self._in_text = True
                    self._carry = b"\r" if data[-1] == _CR else b""
                    return
                pos = line_end + 2
                continue
            if kind != _BULK and kind != _ARRAY:
                raise _protocol(f"unexpected reply: not RESP2 at {data[pos : pos + 24]!r}")
            if line_end < 0 or line_end - pos > _MAX_HEADER:
                if end - pos > _MAX_HEADER:
                    raise _protocol(f"no length in the reply header {data[pos : pos + 24]!r}")
                self._carry = data[pos:]
                return
            text = data[pos + 1 : line_end]
            pos = line_end + 2
            if kind == _BULK and text.isdigit():  # most tokens of a reply: skip the payload
                length = int(text)
                if length > MAX_REPLY_BYTES:
                    raise _protocol(
                        f"a bulk string of {length} bytes announced, more than {MAX_REPLY_BYTES}"
                    )
                pos += length + 2
            elif text != b"-1":  # not a null bulk string or array
                self._count(text)
        self._skip = pos - end

    def _count(self, text: bytes) -> None:
        """Add an array's announced length to the round trip's, within the cap."""
        if not text.isdigit():
            raise _protocol(f"unexpected reply: bad length {text[:24]!r}")
        length = int(text)
        self._elements += length
        if self._elements > MAX_ELEMENTS:
            what = f"an array of {length}" if length > MAX_ELEMENTS else f"{self._elements}"
            raise _protocol(
                f"{what} elements announced in one round trip, more than {MAX_ELEMENTS}"
            )
        self._check_memory()

    def _check_memory(self) -> None:
        """Refuse a round trip whose bytes and announced elements would parse past the cap."""
        if self._bytes + self._elements * ELEMENT_BYTES > MAX_REPLY_BYTES:
            raise _protocol(
                f"{self._elements} elements announced in one round trip, with {self._bytes}"
                f" bytes, would take more than {MAX_REPLY_BYTES} bytes once parsed"
            )
