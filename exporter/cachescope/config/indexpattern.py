"""Search index patterns, in Go's regular expression syntax, matched in linear time.

A pattern is matched against every name FT._LIST gives, and those names come from the
server: Python's backtracking `re` takes exponential time on `(a+)+$` against 34 'a's
and a '!', holding the GIL, so one hostile or unlucky reply would stop every scrape and
even SIGTERM. RE2 (google-re2) matches in time linear in the name, like Go's regexp that
redis_exporter's --check-search-indexes uses; it refuses what Go refuses too
(backreferences, lookarounds), so a pattern written for redis_exporter means the same here.
"""

from __future__ import annotations

from typing import Protocol

import re2

# Refusals come back as values; without this RE2 also writes each one to stderr.
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False


class PatternError(ValueError):
    """A pattern RE2 refuses; `reason` is RE2's own words."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"not a regular expression in Go's (RE2) syntax: {reason}")
        self.reason = reason


class IndexPattern(Protocol):
    """A compiled pattern: only whole-name matching is used."""

    def fullmatch(self, text: str) -> object | None: ...


def compile_index_pattern(entry: str) -> IndexPattern:
    """`entry` compiled by RE2; PatternError saying why it is not Go regex syntax."""
    try:
        pattern: IndexPattern = re2.compile(entry, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason)) from None
    return pattern
