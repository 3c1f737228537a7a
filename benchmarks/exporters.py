"""The two exporters under test, each a child process, and a keep-alive HTTP client."""

from __future__ import annotations

import gzip
import http.client
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from benchmarks.processes import Processes, free_ports, require_binary, wait_until

REDIS_EXPORTER = "/usr/bin/prometheus-redis-exporter"
CACHESCOPE = "cachescope"
PEER = "redis_exporter"


# What Prometheus sends on every scrape: gzip preferred, identity acceptable.
GZIP_HEADERS = {"Accept-Encoding": "gzip"}


class Client:
    """GET over one kept-alive connection, as Prometheus does; reconnects if dropped."""

    def __init__(self, port: int, timeout: float = 60.0) -> None:
        self.port = port
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self.wire_bytes = 0  # body bytes received, as sent: compressed if gzipped
        self.gzipped = 0  # responses that came gzipped

    def get(self, path: str, gzipped: bool = False) -> bytes:
        """The body, decompressed if the exporter gzipped it; gzip asked for if `gzipped`."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection("127.0.0.1", self.port, self.timeout)
            try:
                self._conn.request("GET", path, headers=GZIP_HEADERS if gzipped else {})
                response = self._conn.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.status != 200:
                raise RuntimeError(f"GET {path} on port {self.port}: {response.status} {body!r}")
            self.wire_bytes += len(body)
            if response.getheader("Content-Encoding") == "gzip":
                self.gzipped += 1
                body = gzip.decompress(body)
            return body
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = None


class Exporter:
    """One exporter process: its pid for /proc readings, and a client to its HTTP port."""

    def __init__(self, name: str, proc: subprocess.Popen[bytes], port: int) -> None:
        self.name = name
        self.proc = proc
        self.port = port
        self.client = Client(port)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def scrape_path(self, uri: str) -> str:
        return "/scrape?target=" + quote(uri, safe="")

    def all_targets(self, uris: list[str], gzipped: bool = False) -> bytes:
        """Every target once: cachescope's /metrics, or one /scrape per target for the peer."""
        if self.name == CACHESCOPE:
            return self.client.get("/metrics", gzipped)
        return b"".join(self.client.get(self.scrape_path(uri), gzipped) for uri in uris)


def cachescope_config(path: Path, uris: list[str], timeout: float | None = None) -> Path:
    """A config file listing every target; the timeout is the default, 5 s, unless given."""
    defaults = f"defaults:\n  timeout: {timeout}s\n" if timeout else ""
    targets = "targets:\n" + "".join(f"  - {uri}\n" for uri in uris)
    path.write_text(defaults + targets, encoding="utf-8")
    return path


def start_cachescope(
    processes: Processes,
    uris: list[str],
    tag: str,
    source: Path | None = None,
    timeout: float | None = None,
    args: tuple[str, ...] = (),
) -> Exporter:
    """`cachescope serve` on a free port; from `source` (a package directory) if given.

    `args`: more serve arguments, after the harness' own.
    """
    config = cachescope_config(processes.workdir / f"targets-{tag}.yml", uris, timeout)
    (port,) = free_ports(1)
    command = [
        sys.executable, "-m", "benchmarks.serve", "serve",
        "--web.listen-address", f"127.0.0.1:{port}",
        "--config.file", str(config),
        "--log.level", "warning",
        *args,
    ]  # fmt: skip
    env = dict(os.environ)
    path = [str(source) if source else "", str(Path(__file__).resolve().parent.parent)]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [*path, env.get("PYTHONPATH", "")]))
    proc = processes.start(command, f"cachescope-{tag}", env=env)
    return _ready(processes, Exporter(CACHESCOPE, proc, port), f"cachescope-{tag}", "/-/ready")


def start_redis_exporter(processes: Processes, first_redis_port: int, tag: str) -> Exporter:
    binary = require_binary(REDIS_EXPORTER)
    (port,) = free_ports(1)
    args = [
        binary,
        "-redis.addr", f"redis://127.0.0.1:{first_redis_port}",
        "-web.listen-address", f"127.0.0.1:{port}",
    ]  # fmt: skip
    proc = processes.start(args, f"redis_exporter-{tag}")
    return _ready(processes, Exporter(PEER, proc, port), f"redis_exporter-{tag}", "/")


def _ready(processes: Processes, exporter: Exporter, name: str, path: str) -> Exporter:
    def ready() -> bool:
        if exporter.proc.poll() is not None:
            raise RuntimeError(f"{name} exited: {processes.log(name)}")
        try:
            exporter.client.get(path)
        except (OSError, http.client.HTTPException):
            exporter.client.close()
            return False
        return True

    wait_until(ready, 60.0, name)
    return exporter


def export_revision(revision: str, directory: Path) -> tuple[Path, str]:
    """Extract cachescope as committed at `revision`, so edits in progress do not leak in."""
    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short", f"{revision}^{{commit}}"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", commit, "exporter/cachescope"],
        capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive, check=True, timeout=60)
    return directory / "exporter", commit


def working_tree_version() -> str:
    """The commit of the checkout the installed cachescope runs from, and whether it is dirty."""
    import cachescope

    root = Path(cachescope.__file__).resolve().parent.parent.parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, timeout=30,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "exporter"],
            capture_output=True, text=True, timeout=30,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return f"working tree {root}"
    return f"working tree at {commit}" + (" with uncommitted changes" if dirty else "")


def redis_exporter_version() -> str:
    try:
        out = subprocess.run(
            [REDIS_EXPORTER, "-version"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(r"Exporter (\S+).*?Go: (\S+)", out.stdout + out.stderr)
    return f"{match.group(1)} ({match.group(2)})" if match else "unknown"


def settle(seconds: float = 0.2) -> None:
    """A short pause between phases, so one exporter's tail does not land in the other's."""
    time.sleep(seconds)
