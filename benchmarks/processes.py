"""Child processes the harness owns: started in bulk, all stopped at the end, whatever happens."""

from __future__ import annotations

import contextlib
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def require_binary(name: str) -> str:
    path = shutil.which(name) or (name if os.path.isfile(name) else None)
    if path is None:
        raise SystemExit(f"{name} is not installed (Debian: apt-get install {Path(name).name})")
    return path


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports below the ephemeral range.

    Ports the kernel hands out for outgoing connections (replicas dialling their primary,
    the exporters' clients) could otherwise take a chosen port before its server binds it.
    """
    with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as handle:
        ephemeral_low = int(handle.read().split()[0])
    candidates = list(range(10_000, max(ephemeral_low, 10_001)))
    random.shuffle(candidates)
    sockets: list[socket.socket] = []
    try:
        for port in candidates:
            if len(sockets) == count:
                break
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            sockets.append(sock)
        if len(sockets) < count:
            raise RuntimeError(f"found only {len(sockets)} of {count} free ports")
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one (children inherit it); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` until true, for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError as exc:  # not listening yet
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} ({last})")


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (an exporter's scrape workers), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdecimal():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def cpu_seconds(pid: int) -> float:
    """CPU of a process and everything below it: utime + stime of all threads, and of
    children, live or exited (a process' own stat counts only the children it waited for)."""
    total = 0.0
    for each in [pid, *descendants(pid)]:
        try:
            with open(f"/proc/{each}/stat", encoding="ascii", errors="replace") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited between the listing and now
        # utime, stime, cutime, cstime: fields 14 to 17 of stat(5)
        total += sum(int(field) for field in fields[11:15]) / CLOCK_TICKS
    return total


def peak_rss_bytes(pid: int) -> int:
    """VmHWM, the highest resident set size, of a process plus each process below it.

    A sum of peaks: at least the peak of the sum, so never flattering.
    """
    total = 0
    for each in [pid, *descendants(pid)]:
        try:
            with open(f"/proc/{each}/status", encoding="ascii") as handle:
                total += next(
                    int(line.split()[1]) * 1024 for line in handle if line.startswith("VmHWM:")
                )
        except (OSError, StopIteration):
            continue
    return total


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class Processes:
    """Every child started through it is stopped by `stop_all`, in parallel and bounded."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.children: list[subprocess.Popen[bytes]] = []

    def start(
        self, args: Sequence[str], name: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with open(self.workdir / f"{name}.log", "wb") as log:
            proc = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env=env,
            )
        self.children.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
        self._stop([proc], timeout)
        self.children.remove(proc)

    def stop_all(self, timeout: float = 15.0) -> None:
        self._stop(self.children, timeout)
        self.children = []

    @staticmethod
    def _stop(procs: Sequence[subprocess.Popen[bytes]], timeout: float) -> None:
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
