"""Scrape errors as values: a short kind for the error counter, a message for humans.

Everything a target says can repeat its password (a careless proxy echoes AUTH's
argument in later errors). `Scrubber` is the one place that knows a target's secret
and takes it out; reply errors pass through it as they arrive (RedisConnection), and
every message as it is stored, logged or rendered (TargetState, analyze).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from cachescope.exposition.textformat import escape_label

if TYPE_CHECKING:
    from cachescope.config.records import TargetConfig

# The `error` label values of cachescope_scrape_errors_total, and what to do about each.
ERROR_HINTS = {
    "connect": "check that the server runs and that host and port are right",
    "timeout": "the server did not answer in time; check its load or raise the target's timeout",
    "tls": "check the TLS settings (CA, client certificate, server name) against the server's",
    "auth": "check the username and password configured for this target",
    "protocol": "the peer does not speak the expected protocol; is this the right port?",
    "command": "the server refused a required command; check the ACL of the exporter's user",
    "busy": "a previous scrape of this target is still running; raise the scrape interval",
    "loading": "the server is loading its dataset and answers once loading is done",
    "script": "a script or function blocks the server; stop it with SCRIPT KILL or FUNCTION KILL",
    "parse": "the reply could not be understood; please report it with the server version",
    "not_allowed": "discovery reported a node outside discover.allow (default: the seed's"
    " private range, or its /24 when public); add the node's network to discover.allow"
    " if it is yours",
    "series_limit": "the target gives more series than allowed; raise --limits.max-series",
}


class ScrapeError(Exception):
    """A target could not be scraped. `kind` is one of ERROR_HINTS."""

    def __init__(self, kind: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self._hint = hint  # where the kind's usual hint would point the wrong way

    @property
    def hint(self) -> str:
        return self._hint or ERROR_HINTS.get(self.kind, "")


# A target cut by the client's (Prometheus') scrape_timeout, not by its own timeout.
DEADLINE_HINT = (
    "Prometheus' scrape_timeout cut this scrape: raise scrape_timeout in the scrape job, "
    "or make the target answer faster; the target's own timeout is not what stopped it"
)


def cut_at_deadline(seconds: float) -> ScrapeError:
    """The timeout of a target that the scrape's deadline stopped before its own timeout."""
    message = f"cut at the scrape's deadline, {seconds:.3g}s in (Prometheus' scrape_timeout)"
    return ScrapeError("timeout", message, DEADLINE_HINT)


REDACTED = "<redacted>"
# Free text is scrubbed of a password only from this length up: a shorter one ("ab")
# would cut words out of every message it is a part of, and is no secret anyway. Label
# values are scrubbed of any password (see Scrubber.label).
MIN_SCRUBBED = 4


def _pattern(spellings: set[str]) -> re.Pattern[str]:
    """One case-insensitive alternation of the spellings, longest first."""
    ordered = sorted(spellings, key=lambda text: (-len(text), text))
    return re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Scrubber:
    """Removes one secret from what a target says, in any letter case and common spellings.

    A server that echoes a password may repeat it as sent, upper- or lower-cased,
    URL-encoded or backslash-escaped; all of these are the password.
    """

    text_pattern: re.Pattern[str] | None  # None: too short to scrub from free text
    label_pattern: re.Pattern[str]
    # The label spellings case-folded: `in` on folded text is fifty times faster than
    # an IGNORECASE search, and most families of a scrape hold no secret.
    label_folded: tuple[str, ...]

    @classmethod
    def of(cls, secret: str) -> Scrubber:
        spellings = {secret, quote(secret, safe=""), quote(secret), repr(secret)[1:-1]}
        spellings.add(escape_label(secret))  # also a JSON string's escaping, but for \n
        # IGNORECASE folds one character at a time; "straße".upper() is "STRASSE".
        spellings |= {secret.upper(), secret.lower(), secret.casefold()}
        labels = {escape_label(text) for text in spellings}
        return cls(
            _pattern(spellings) if len(secret) >= MIN_SCRUBBED else None,
            _pattern(labels),
            tuple({text.casefold() for text in labels}),
        )

    def text(self, text: str) -> str:
        """`text` without the secret; all of it redacted if removing it formed it anew."""
        return _redact(self.text_pattern, text) if self.text_pattern is not None else text

    def in_labels(self, text: str) -> bool:
        """Whether exposition text may hold the secret (a quick test before label())."""
        folded = text.casefold()
        return any(spelling in folded for spelling in self.label_folded)

    def label(self, value: str) -> str:
        """An escaped label value without the secret."""
        return _redact(self.label_pattern, value)


def _redact(pattern: re.Pattern[str], text: str) -> str:
    text, found = pattern.subn(REDACTED, text)
    if not found:
        return text
    # Rare: the redaction next to what surrounds it spells the secret ("d>d>" in
    # "d>d>d>"); nothing of such a text is kept.
    return REDACTED if pattern.search(text) is not None else text


@functools.lru_cache(maxsize=4096)
def _scrubber(secret: str) -> Scrubber:
    return Scrubber.of(secret)


def scrubber_for(target: TargetConfig) -> Scrubber | None:
    """The target's scrubber; None when it has no password, so that it pays nothing."""
    password = target.credentials.password
    if password is None or not password.reveal():
        return None
    return _scrubber(password.reveal())


def scrub(text: str, target: TargetConfig) -> str:
    """`text` (anything a target said, or a message about it) without the target's password."""
    scrubber = scrubber_for(target)
    return text if scrubber is None else scrubber.text(text)


def scrubbed(error: ScrapeError, target: TargetConfig) -> ScrapeError:
    """The error with its message scrubbed of the target's password."""
    message = scrub(error.message, target)
    return error if message == error.message else ScrapeError(error.kind, message)
