"""The HTTP writer sends a large piece of a /metrics body as it is, never a copy."""

from __future__ import annotations

import pytest
from cachescope.web.write import _BLOCK, _blocks

pytestmark = pytest.mark.unit


def test_a_family_joined_by_a_worker_is_sent_without_a_copy() -> None:
    big = memoryview(bytes(4 * _BLOCK))  # like a worker's joined family: megabytes
    small = [b"a" * 10, b"b" * 20]
    blocks = list(_blocks([*small, big, *small]))
    assert any(block is big for block in blocks)
    assert b"".join(blocks) == b"".join([*small, big, *small])


def test_small_chunks_are_still_gathered_into_one_write() -> None:
    chunks = [b"x" * 100] * 10
    assert list(_blocks(chunks)) == [b"x" * 1000]
