"""Child processes of the demo: finding binaries, ports, starting, waiting, stopping."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

# What the demo runs -> (names to look for on PATH, the Debian package that ships it).
BINARIES: dict[str, tuple[tuple[str, ...], str]] = {
    "redis-server": (("redis-server",), "redis-server"),
    "memcached": (("memcached",), "memcached"),
    "prometheus": (("prometheus",), "prometheus"),
    # Debian renames the binary; upstream tarballs call it alertmanager.
    "alertmanager": (("prometheus-alertmanager", "alertmanager"), "prometheus-alertmanager"),
}
_PR_SET_PDEATHSIG = 1


class DemoError(Exception):
    """Something the user can fix: a missing binary, a server that would not start."""


def find_binaries() -> dict[str, str]:
    """Path of every binary the demo needs, or one error naming all missing packages."""
    found: dict[str, str] = {}
    missing: list[str] = []
    for binary, (names, package) in BINARIES.items():
        path = next((p for p in map(shutil.which, names) if p), None)
        if path is None:
            missing.append(package)
        else:
            found[binary] = path
    if missing:
        raise DemoError(
            f"missing {', '.join(missing)}: install with "
            f"`sudo apt-get install {' '.join(missing)}` (or run scripts/setup.sh)"
        )
    return found


def port_free(port: int) -> bool:
    """Whether 127.0.0.1:port can be listened on now."""
    with socket.socket() as sock:
        # As the servers do: connections of a previous run in TIME_WAIT do not block a port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_port(preferred: int, taken: set[int]) -> int:
    """`preferred` if free (0: any), else a free port the kernel picks; recorded in `taken`."""
    port = preferred
    while port == 0 or port in taken or not port_free(port):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
    taken.add(port)
    return port


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the demo itself dies without stopping us (SIGKILL)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """One server, its output in <workdir>/<name>.log, in its own session so that a Ctrl-C
    reaches only the demo, which then stops the servers in order."""

    def __init__(self, name: str, args: Sequence[str], workdir: Path) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self.stopped = False
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                start_new_session=True,
                # Children start before the demo starts any thread, so preexec_fn is safe.
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def wait_ready(child: Child, check: Callable[[], bool], timeout: float = 30) -> None:
    """Poll `check` until it holds; a child that exits or never gets ready is a DemoError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.running():
            break
        try:
            if check():
                return
        except OSError:  # not listening yet
            pass
        time.sleep(0.1)
    state = "exited" if not child.running() else f"was not ready after {timeout:.0f}s"
    raise DemoError(f"{child.name} {state}; its log ({child.log_path}):\n{child.log_tail()}")


def answers(port: int, request: bytes, prefix: bytes) -> bool:
    """Whether a TCP server on loopback answers `request` with a line starting `prefix`."""
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(request)
        return sock.recv(256).startswith(prefix)


def http_ok(url: str) -> bool:
    """Whether GET url answers 200."""
    with urllib.request.urlopen(url, timeout=2) as reply:
        return bool(reply.status == 200)


def is_root() -> bool:
    return os.geteuid() == 0
