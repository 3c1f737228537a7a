"""The RESP guard in front of hiredis: same replies as hiredis alone, caps enforced, only
ScrapeError raised, however a reply is split across recv() chunks."""

from __future__ import annotations

import time
from typing import Any

import hiredis
import pytest
from cachescope.config.records import TargetConfig
from cachescope.config.targets import parse_uri
from cachescope.errors import ScrapeError
from cachescope.redis.client import RedisConnection
from cachescope.redis.guard import MAX_ELEMENTS, MAX_REPLY_BYTES, GuardedReader
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import RedisServer

# Bulk contents that look like headers, so that a guard that scans them would trip.
TRICKY = st.sampled_from([b"*99999999999", b"$9223372036854775807\r\n", b"\r\n*3\r\n", b"+"])
BULK = st.one_of(st.binary(max_size=40), TRICKY, st.builds(bytes.__add__, TRICKY, st.binary()))
LINE = st.binary(max_size=20).filter(lambda text: b"\r" not in text and b"\n" not in text)


def _bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


def _array(items: list[bytes]) -> bytes:
    return b"*%d\r\n%s" % (len(items), b"".join(items))


SCALAR = st.one_of(
    LINE.map(lambda text: b"+" + text + b"\r\n"),
    LINE.map(lambda text: b"-ERR " + text + b"\r\n"),
    st.integers(-(2**63), 2**63 - 1).map(lambda n: b":%d\r\n" % n),
    BULK.map(_bulk),
    st.sampled_from([b"$-1\r\n", b"*-1\r\n", b"*0\r\n", b"$0\r\n\r\n"]),
)
REPLY = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=6).map(_array), max_leaves=30)


def chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    """`data` split at the given offsets (taken modulo its length), as recv() might."""
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False) if b > a]


def _plain(reply: Any) -> Any:
    if isinstance(reply, hiredis.ReplyError):
        return ("error", str(reply))
    if isinstance(reply, list):
        return [_plain(item) for item in reply]
    return reply


def read_all(reader: Any, pieces: list[bytes]) -> list[Any]:
    replies = []
    for piece in pieces:
        reader.feed(piece)
        while (reply := reader.gets()) is not False:
            replies.append(_plain(reply))
    return replies


@settings(max_examples=300)
@given(replies=st.lists(REPLY, min_size=1, max_size=5), cuts=st.lists(st.integers(0, 10**6)))
def test_valid_replies_split_anywhere_read_as_hiredis_reads_them(
    replies: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(replies)
    expected = read_all(hiredis.Reader(), [data])
    assert len(expected) == len(replies)
    assert read_all(GuardedReader(), chunks(data, cuts)) == expected


def _announce(kind: bytes, length: int) -> bytes:
    return kind + b"%d\r\n" % length


@settings(max_examples=200)
@given(
    before=st.lists(REPLY, max_size=3),
    kind=st.sampled_from([b"$", b"*"]),
    length=st.integers(0, 2**63 - 1),
    depth=st.integers(0, 3),
    cuts=st.lists(st.integers(0, 10**6)),
)
def test_any_length_above_the_cap_fails_as_protocol(
    before: list[bytes], kind: bytes, length: int, depth: int, cuts: list[int]
) -> None:
    cap = MAX_REPLY_BYTES if kind == b"$" else MAX_ELEMENTS
    length = cap + 1 + length % (2**63 - cap - 1)
    data = b"".join(before) + b"*1\r\n" * depth + _announce(kind, length) + b"x" * 100
    reader = GuardedReader()
    with pytest.raises(ScrapeError) as caught:
        read_all(reader, chunks(data, cuts))
    assert caught.value.kind == "protocol"
    assert str(length) in caught.value.message


def test_arrays_within_the_cap_one_by_one_fail_once_their_sum_exceeds_it() -> None:
    inner = MAX_ELEMENTS // 4
    data = b"*8\r\n" + (_announce(b"*", inner) + b":1\r\n" * inner) * 8
    with pytest.raises(ScrapeError, match="elements announced in one round trip"):
        read_all(GuardedReader(), chunks(data, list(range(0, len(data), 65536))))


def test_the_byte_budget_is_per_round_trip() -> None:
    reader = GuardedReader()
    payload = b"i" * (MAX_REPLY_BYTES * 2 // 3)
    reply = _bulk(payload)
    for _ in range(2):
        reader.begin()
        assert read_all(reader, chunks(reply, list(range(0, len(reply), 65536)))) == [payload]
    with pytest.raises(ScrapeError, match=f"longer than {MAX_REPLY_BYTES} bytes"):
        read_all(reader, [reply])


@settings(max_examples=300)
@given(
    data=st.one_of(
        st.binary(max_size=200),
        st.lists(
            st.one_of(SCALAR, st.binary(max_size=8), st.sampled_from(list(b"*$+-:\r\n%~>"))).map(
                lambda b: bytes([b]) if isinstance(b, int) else b
            )
        ).map(b"".join),
    ),
    cuts=st.lists(st.integers(0, 10**6)),
)
def test_garbage_raises_nothing_but_scrape_error(data: bytes, cuts: list[int]) -> None:
    try:
        read_all(GuardedReader(), chunks(data, cuts))
    except ScrapeError as exc:
        assert exc.kind == "protocol"


def test_key_names_that_look_like_huge_headers_scan_fine_from_a_real_server(
    redis_server: RedisServer,
) -> None:
    names = [b"*99999999999", b"$9223372036854775807\r\n*2147483647\r\n", b"\r\n"]
    client = redis_server.client()
    for name in names:
        client.set(name, b"*2147483647\r\n" * 100)
    connection = RedisConnection(TargetConfig(endpoint=parse_uri(redis_server.uri), name="real"))
    deadline = time.monotonic() + 5
    try:
        cursor, keys = connection.execute([("SCAN", 0, "COUNT", 1000)], deadline)[0]
        values = connection.execute([("GET", name) for name in names], deadline)
    finally:
        connection.close()
    assert cursor == b"0" and sorted(keys) == sorted(names)
    assert values == [b"*2147483647\r\n" * 100] * 3
