"""A strict logfmt parser for tests: a line it accepts has no stray text anywhere."""

from __future__ import annotations

import re

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_BARE = re.compile(r"[!#-<>-~]+")
_SIMPLE = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t"}


def parse(line: str) -> dict[str, str]:
    """The keys and values of one logfmt line; ValueError on anything malformed."""
    pairs: dict[str, str] = {}
    at = 0
    while at < len(line):
        if pairs:
            if line[at] != " ":
                raise ValueError(f"expected a space at {at}: {line!r}")
            at += 1
        key = _KEY.match(line, at)
        if key is None or key.end() >= len(line) or line[key.end()] != "=":
            raise ValueError(f"expected key= at {at}: {line!r}")
        if key.group() in pairs:
            raise ValueError(f"duplicate key {key.group()!r}: {line!r}")
        value, at = _value(line, key.end() + 1)
        pairs[key.group()] = value
    return pairs


def _value(line: str, at: int) -> tuple[str, int]:
    if at < len(line) and line[at] == '"':
        return _quoted(line, at + 1)
    bare = _BARE.match(line, at)
    if bare is None:
        raise ValueError(f"expected a value at {at}: {line!r}")
    return bare.group(), bare.end()


def _quoted(line: str, at: int) -> tuple[str, int]:
    text = []
    while at < len(line):
        char = line[at]
        if char == '"':
            return "".join(text), at + 1
        if char == "\\":
            escape = line[at + 1 : at + 2]
            if escape in _SIMPLE:
                text.append(_SIMPLE[escape])
                at += 2
                continue
            width = {"u": 4, "U": 8}.get(escape)
            digits = line[at + 2 : at + 2 + width] if width else ""
            if not width or not re.fullmatch(r"[0-9a-f]+", digits) or len(digits) != width:
                raise ValueError(f"bad escape at {at}: {line!r}")
            text.append(chr(int(digits, 16)))
            at += 2 + width
            continue
        if not char.isprintable():
            raise ValueError(f"raw control character at {at}: {line!r}")
        text.append(char)
        at += 1
    raise ValueError(f"unclosed quote: {line!r}")
