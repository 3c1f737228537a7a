"""A minimal persistent Memcached text-protocol connection for stats commands.

All stats commands of a scrape go out in one write and their END-terminated
replies are read back in order: one round trip per scrape. The connection is
kept between scrapes so that scraping does not inflate the server's
`total_connections`, and is dropped on any network or protocol trouble.

Authentication (memcached 1.6 `-Y authfile`) happens only where the server asks
for it: a fresh connection first sends `version` alone, and a server with `-Y`
refuses it with `CLIENT_ERROR unauthenticated`. Only then is the login sent, as
protocol.txt specifies: `set <any key> 0 0 <len>\\r\\n<user> <password>\\r\\n`,
answered `STORED`. The probe goes alone because memcached 1.6.18 answers only the
first line of a batch sent before logging in, and drops the rest: a pipelined
scrape would wait for replies that never come. A server without `-Y` is never
sent a password, nor a `set` (which would store an item there).
"""

from __future__ import annotations

from collections.abc import Sequence

from cachescope.config.credentials import Credentials
from cachescope.errors import ScrapeError
from cachescope.memcached.parse import ProtocolError, ReplyError, ReplyReader, Stats, Status
from cachescope.transport import Connection

Reply = Stats | ReplyError | Status
UNAUTHENTICATED = "CLIENT_ERROR unauthenticated"
NEEDS_LOGIN = (
    "the server asks for authentication (memcached -Y); give this target a username and"
    " password (memcached://user:password@host:port, or username and password_file in the"
    " config file)"
)


class MemcachedConnection(Connection):
    """One long-lived connection to one Memcached server."""

    incomplete = None  # ReplyReader.gets() while a reply is still arriving
    protocol_errors = (ProtocolError,)

    def new_reader(self) -> ReplyReader:
        return ReplyReader()

    def encode(self, commands: Sequence[str]) -> bytes:
        return "".join(f"{command}\r\n" for command in commands).encode()

    def reset(self) -> None:
        # Stats subcommands the server answered with an error (an older server, or
        # a proxy); not sent again until we reconnect.
        self.unavailable: set[str] = set()

    def on_connect(self, deadline: float) -> None:
        """Log in if, and only if, the server refuses a first command for want of it."""
        [reply] = self.roundtrip(["version"], deadline)
        if isinstance(reply, dict):
            raise ProtocolError("a stats reply to version")
        if reply != UNAUTHENTICATED:  # VERSION, or an error from a proxy without `version`
            return
        [reply] = self.roundtrip([login_command(self.target.credentials)], deadline)
        if reply != "STORED":
            # The server's words are its own (e.g. "authentication failure"); errors.py
            # scrubs every message of the password before it is stored or shown.
            raise ScrapeError(
                "auth", f"the server refused the username and password ({reply[:80]})"
            )


def login_command(credentials: Credentials) -> str:
    """The `set` that logs in, payload included; ScrapeError('auth') without credentials."""
    user, password = credentials.username, credentials.password
    if not user or password is None:
        raise ScrapeError("auth", NEEDS_LOGIN)
    # The server splits the payload at its first space: a user name cannot hold one.
    if any(char in user for char in " \r\n"):
        raise ScrapeError("auth", "a Memcached user name cannot contain a space or a newline")
    payload = " ".join((user, password.reveal()))
    return f"set cachescope 0 0 {len(payload.encode())}\r\n{payload}"
