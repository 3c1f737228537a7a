"""A minimal persistent Memcached text-protocol connection for stats commands.

All stats commands of a scrape go out in one write and their END-terminated
replies are read back in order: one round trip per scrape. The connection is
kept between scrapes so that scraping does not inflate the server's
`total_connections`, and is dropped on any network or protocol trouble.
"""

from __future__ import annotations

from collections.abc import Sequence

from cachescope.memcached.parse import ProtocolError, ReplyError, ReplyReader, Stats
from cachescope.transport import Connection

Reply = Stats | ReplyError


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
