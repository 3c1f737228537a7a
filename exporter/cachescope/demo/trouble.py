"""Trouble on purpose (`--break`), so that a newcomer sees an alert arrive."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

from cachescope.demo.configs import Ports

BREAKS = {
    "down": "stop the primary Redis: RedisDown (critical) after its `for` (1m by default), and"
    " RedisReplicaLinkDown on the replica",
    "memory": "cap the primary Redis at 8 MB under noeviction and fill it: writes fail with"
    " OOM and RedisOutOfMemoryErrors (critical) fires within seconds",
}
_VALUE = b"x" * 10_000
_MAX_FILL = 100_000  # 1 GB of 10 kB values: more means the limit did not take


def manual_commands(ports: Ports) -> list[str]:
    """redis-cli commands that make the same trouble by hand."""
    cli = f"redis-cli -p {ports.redis}"
    return [
        f"{cli} shutdown nosave    # the primary goes down",
        f"{cli} config set maxmemory-policy noeviction; {cli} config set maxmemory 1mb;"
        f" {cli} set k v    # writes fail with OOM",
    ]


class Resp:
    """A minimal RESP client for the few commands the trouble needs (simple replies only)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = self.sock.makefile("rb")

    def call(self, *args: str | bytes) -> bytes:
        """Send one command; its reply line, e.g. b'+OK' or b'-OOM command not allowed ...'."""
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            data = arg.encode() if isinstance(arg, str) else arg
            parts += [f"${len(data)}\r\n".encode(), data, b"\r\n"]
        self.sock.sendall(b"".join(parts))
        return self.reader.readline().rstrip(b"\r\n")

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def fill_until_oom(port: int, stop: threading.Event, echo: Callable[[str], None]) -> None:
    """Cap the Redis under noeviction, fill it, then keep writing so OOM errors keep coming."""
    client = Resp(port)
    try:
        client.call("CONFIG", "SET", "maxmemory-policy", "noeviction")
        client.call("CONFIG", "SET", "maxmemory", "8mb")
        for index in range(_MAX_FILL):
            if client.call("SET", f"demo:fill:{index}", _VALUE).startswith(b"-OOM"):
                break
        echo("demo: the primary Redis is full; writes now fail with OOM (one every 2 s)")
        # The alert is on the increase of the OOM error count, so keep the errors coming.
        while not stop.wait(2):
            client.call("SET", "demo:one-more", _VALUE)
    finally:
        client.close()


def schedule(
    kind: str,
    after: float,
    stop_primary: Callable[[], None],
    port: int,
    stop: threading.Event,
    echo: Callable[[str], None],
) -> threading.Thread:
    """Start a thread that makes `kind` trouble after `after` seconds (unless stopped)."""

    def run() -> None:
        if stop.wait(after):
            return
        echo(f"demo: --break {kind}: {BREAKS[kind]}")
        if kind == "down":
            stop_primary()
            return
        with contextlib.suppress(OSError):  # the primary was stopped by hand meanwhile
            fill_until_oom(port, stop, echo)

    thread = threading.Thread(target=run, name="demo-break", daemon=True)
    thread.start()
    return thread
