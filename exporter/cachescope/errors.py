"""Scrape errors as values: a short kind for the error counter, a message for humans."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cachescope.config import TargetConfig

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

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    @property
    def hint(self) -> str:
        return ERROR_HINTS.get(self.kind, "")


def scrub(text: str, target: TargetConfig) -> str:
    """Remove the target's password from a message, in case a peer echoed it."""
    password = target.credentials.password
    if password is not None and password.reveal():
        text = text.replace(password.reveal(), "<redacted>")
    return text
