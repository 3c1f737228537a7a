"""A minimal persistent RESP2 connection: pipeline commands, read raw replies.

We speak the protocol over a plain socket with hiredis' reader instead of
redis-py: a scrape is a fixed pipeline whose replies we parse ourselves, and
redis-py's per-reply machinery (and the commands it sends on connect, such as
CLIENT SETINFO, which Redis 7.0 answers with an error) cost more than the
round trip itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import hiredis

from cachescope.config.records import TargetConfig
from cachescope.errors import ScrapeError, scrubber_for
from cachescope.redis.guard import GuardedReader
from cachescope.transport import Connection

Command = Sequence[str | bytes | int]
ReplyError = hiredis.ReplyError
_pack: Any = hiredis.pack_command  # its stub is narrower than what it accepts
# Replies we parse line by line into a dict or records, where a line of a few bytes
# costs a few hundred: INFO of the largest servers is under 200 KiB, CLUSTER NODES
# of a 1000-node cluster with a fragmented slot map under 1 MiB. A hostile 32 MiB
# INFO of tiny fields would cost 600 MB and seconds of parsing; 2 MiB keeps it small.
MAX_TEXT_REPLY = 2 << 20
_TEXT_COMMANDS = frozenset({"INFO", "CLUSTER"})


class RedisConnection(Connection):
    """One long-lived connection to one Redis server."""

    incomplete = False  # hiredis' gets() while a reply is still arriving
    protocol_errors = (hiredis.ProtocolError,)

    def __init__(self, target: TargetConfig) -> None:
        super().__init__(target)
        # Whatever a server says may repeat the password it was sent (a proxy echoing
        # AUTH's argument in later errors); None without one, which costs nothing.
        self._scrubber = scrubber_for(target)

    def new_reader(self) -> GuardedReader:
        self._guard = GuardedReader()
        return self._guard

    def roundtrip(self, commands: Sequence[Command], deadline: float) -> list[Any]:
        """The replies; error replies scrubbed of the password before anyone reads them."""
        self._guard.begin()  # the caps on bytes and elements count per round trip
        replies = super().roundtrip(commands, deadline)
        scrubber = self._scrubber
        if scrubber is not None:
            replies = [
                ReplyError(scrubber.text(str(r))) if isinstance(r, ReplyError) else r
                for r in replies
            ]
        return replies

    def execute(self, commands: Sequence[Command], deadline: float) -> list[Any]:
        """Send the commands in one write; their replies, text ones within MAX_TEXT_REPLY."""
        replies = super().execute(commands, deadline)
        for command, reply in zip(commands, replies, strict=True):
            if reply.__class__ is bytes and len(reply) > MAX_TEXT_REPLY:
                name = str(command[0]).upper()
                if name in _TEXT_COMMANDS:
                    raise ScrapeError(
                        "protocol",
                        f"{name} reply of {len(reply)} bytes, more than {MAX_TEXT_REPLY}",
                    )
        return replies

    def encode(self, commands: Sequence[Command]) -> bytes:
        return b"".join(_pack(tuple(command)) for command in commands)

    def reset(self) -> None:
        # Commands the server refused as unknown or forbidden on this connection, with
        # its reply; we stop sending them until we reconnect so we do not inflate its
        # error stats (a restriction can be lifted, or a failover can change the server).
        self.unavailable: dict[str, str] = {}
        # What the server is ('standalone', 'cluster', 'sentinel') and its version,
        # learned from INFO on this connection, and the master sets a sentinel watches.
        self.mode: str | None = None
        self.version: tuple[int, ...] = ()
        self.masters: list[str] = []
        self.commandlog = False  # Valkey 8.1+: COMMANDLOG exists
        self.modules = False  # INFO ALL lists a module: its own sections need INFO MODULES
        self.clients = 0  # connected_clients at the last INFO: whether CLIENT LIST fits

    def on_connect(self, deadline: float) -> None:
        creds = self.target.credentials
        commands: list[Command] = []
        if creds.password is not None:
            auth: list[str | bytes | int] = ["AUTH"]
            if creds.username:
                auth.append(creds.username)
            commands.append(auth + [creds.password.reveal()])
        # Naming the connection lets operators tell our scrapes apart in CLIENT LIST.
        commands.append(("CLIENT", "SETNAME", "cachescope"))
        replies = self.roundtrip(commands, deadline)
        if creds.password is not None and isinstance(replies[0], ReplyError):
            raise ScrapeError("auth", f"authentication failed: {replies[0]}")
        if isinstance(replies[-1], ReplyError):  # an ACL without client|setname: scrape anyway
            self.unavailable["CLIENT"] = str(replies[-1])
