"""What the front's threads share: one epoll set of one-shot registrations, and request lanes.

One-shot means an event goes to exactly one thread and the descriptor stays
quiet until that thread re-arms it, so a connection has one owner at a time
and no hand-off between threads is needed to answer it.
"""

from __future__ import annotations

import collections
import contextlib
import select
import threading
from typing import Generic, TypeVar

Item = TypeVar("Item")
_READ = select.EPOLLIN | select.EPOLLONESHOT
_WRITE = select.EPOLLOUT | select.EPOLLONESHOT


class Poller:
    """Descriptors and their owners; a ready descriptor is handed to one waiting thread."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._owners: dict[int, object] = {}

    def add(self, fd: int, owner: object) -> None:
        """Watch `fd` for reading; its events go to whoever waits, with `owner`."""
        self._owners[fd] = owner  # first: its event may reach another thread at once
        try:
            self._epoll.register(fd, _READ)
        except BaseException:
            del self._owners[fd]
            raise

    def rearm(self, fd: int, write: bool = False) -> None:
        """Let the next event of `fd` through (reading, or writing for a TLS handshake)."""
        self._epoll.modify(fd, _WRITE if write else _READ)

    def remove(self, fd: int, owner: object) -> None:
        """Stop watching `owner`'s `fd`; call it before the close, while the number is its."""
        if self._owners.get(fd) is owner:
            del self._owners[fd]
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(fd)

    def wait(self, timeout: float) -> object | None:
        """The owner of one ready descriptor, or None after `timeout` seconds."""
        for fd, _ in self._epoll.poll(timeout, 1):  # one: the rest go to other threads
            return self._owners.get(fd)
        return None

    def close(self) -> None:
        self._epoll.close()


class Lane(Generic[Item]):
    """At most `slots` requests answered at once; the rest wait in order for a slot."""

    def __init__(self, slots: int) -> None:
        self._free = slots
        self._waiting: collections.deque[Item] = collections.deque()
        self._lock = threading.Lock()

    def enter_or_wait(self, item: Item) -> bool:
        """Take a slot (True), or queue `item` for the next slot to free up (False)."""
        with self._lock:
            if self._free > 0:
                self._free -= 1
                return True
            self._waiting.append(item)
            return False

    def wait(self, item: Item) -> None:
        """Queue `item` behind the others, without trying for a slot."""
        with self._lock:
            self._waiting.append(item)

    def next_or_leave(self) -> Item | None:
        """The next queued item, keeping the slot; or None, and the slot is free again."""
        with self._lock:
            if self._waiting:
                return self._waiting.popleft()
            self._free += 1
            return None
