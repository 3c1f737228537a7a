"""A line on a terminal's stderr while analyze waits out its interval; nothing when piped."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

# Once a second: often enough to show it is alive, rarely enough to cost nothing.
TICK = 1.0


@contextmanager
def shown(stream: TextIO, what: str, interval: float) -> Iterator[None]:
    """Show "sampling WHAT: 3s of 10s" on `stream`, updated in place, if it is a terminal."""
    if not stream.isatty():
        yield
        return
    stop = threading.Event()
    thread = threading.Thread(target=_run, args=(stream, what, interval, stop), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        stream.write("\r\x1b[K")  # leave the terminal as it was: the report follows
        stream.flush()


def _run(stream: TextIO, what: str, interval: float, stop: threading.Event) -> None:
    start = time.monotonic()
    while True:
        done = min(time.monotonic() - start, interval)
        stream.write(f"\r\x1b[Ksampling {what}: {done:.0f}s of {interval:g}s")
        stream.flush()
        if stop.wait(TICK):
            return


def label(names: list[str]) -> str:
    """What is being sampled, in a few words: one name, or a count."""
    return names[0] if len(names) == 1 else f"{len(names)} targets"
