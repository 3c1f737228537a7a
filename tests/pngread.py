"""Just enough PNG decoding to count the colours of a screenshot (8-bit RGB/RGBA)."""

from __future__ import annotations

import struct
import zlib
from collections import Counter


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def colours(data: bytes) -> Counter[tuple[int, int, int]]:
    """How many pixels of each RGB colour the image has."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour_type in (2, 6), f"unsupported PNG {depth=} {colour_type=}"
    size = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(idat), width * size
    previous, counts = bytearray(stride), Counter()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - size] if i >= size else 0
            up, corner = previous[i], previous[i - size] if i >= size else 0
            line[i] = (
                line[i] + (0, left, up, (left + up) // 2, _paeth(left, up, corner))[kind]
            ) & 255
        counts.update(tuple(line[i : i + 3]) for i in range(0, stride, size))
        previous = line
    return counts
