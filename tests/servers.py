"""Real servers for tests: redis-server, memcached and the exporter itself.

Each runs as a child process on a free loopback port and is stopped by its
fixture. A missing binary fails the test: CI must install it, not skip it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed; .ci/run installs it (apt-get install ...)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check, timeout: float = 10.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # the server is not up yet
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}: {last}")


class Process:
    """A child process whose output goes to a log file we can show on failure."""

    def __init__(self, args: Sequence[str], workdir: Path, name: str) -> None:
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (open while the process runs)
        self.proc = subprocess.Popen(
            list(args), stdout=self._log, stderr=subprocess.STDOUT, cwd=workdir
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class RedisServer(Process):
    """redis-server on a free loopback port, with no persistence unless asked."""

    def __init__(
        self,
        *extra: str,
        workdir: Path | None = None,
        tls: dict[str, str] | None = None,
        password: str | None = None,
        port: int | None = None,
        binary: str | None = None,
    ) -> None:
        """`binary`: a redis-server (or valkey-server) other than the one on PATH."""
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="cachescope-redis-"))
        self.port = port or free_port()
        self.password = password
        self.tls = tls
        args = [
            binary or require_binary("redis-server"),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            "--daemonize",
            "no",
        ]
        if tls:
            args += [
                "--port",
                "0",
                "--tls-port",
                str(self.port),
                "--tls-cert-file",
                tls["cert"],
                "--tls-key-file",
                tls["key"],
                "--tls-ca-cert-file",
                tls["ca"],
                "--tls-auth-clients",
                tls.get("auth_clients", "no"),
            ]
        else:
            args += ["--port", str(self.port)]
        if password:
            args += ["--requirepass", password]
        super().__init__(args + list(extra), self.workdir, f"redis-{self.port}")
        wait_for(self._ping, what=f"redis-server on port {self.port}\n{self.log()}")

    @property
    def uri(self) -> str:
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}"

    def client(self, **kwargs: object) -> redis.Redis:
        options: dict[str, object] = {
            "host": "127.0.0.1",
            "port": self.port,
            "password": self.password,
        }
        if self.tls:
            options.update(
                ssl=True,
                ssl_ca_certs=self.tls["ca"],
                ssl_certfile=self.tls.get("client_cert"),
                ssl_keyfile=self.tls.get("client_key"),
            )
        options.update(kwargs)
        return redis.Redis(**options)  # type: ignore[arg-type]

    def restart(self) -> None:
        """Stop the server and start a new process with the same arguments on the same port."""
        args = list(self.proc.args)
        self.stop()
        Process.__init__(self, args, self.workdir, f"redis-{self.port}")
        wait_for(self._ping, what=f"redis-server on port {self.port}\n{self.log()}")

    def _ping(self) -> bool:
        with self.client(socket_timeout=1) as client:
            return bool(client.ping())


class MemcachedServer(Process):
    """memcached on a free loopback TCP port."""

    def __init__(self, *extra: str, users: dict[str, str] | None = None) -> None:
        """`users` ({user: password}) turns on ASCII authentication (`-Y authfile`)."""
        self.workdir = Path(tempfile.mkdtemp(prefix="cachescope-memcached-"))
        self.port = free_port()
        args = [require_binary("memcached"), "-l", "127.0.0.1", "-p", str(self.port), "-U", "0"]
        if os.geteuid() == 0:
            args += ["-u", "root"]
        if users is not None:
            authfile = self.workdir / "authfile"
            authfile.write_text("".join(f"{user}:{password}\n" for user, password in users.items()))
            args += ["-Y", str(authfile)]
        super().__init__(args + list(extra), self.workdir, f"memcached-{self.port}")
        wait_for(self._connects, what=f"memcached on port {self.port}\n{self.log()}")

    @property
    def uri(self) -> str:
        return f"memcached://127.0.0.1:{self.port}"

    def _connects(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"version\r\n")
            # With -Y, any command before logging in is refused, but answered.
            return sock.recv(100).startswith((b"VERSION", b"CLIENT_ERROR unauthenticated"))


class Exporter(Process):
    """`python -m cachescope serve` on a free port."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="cachescope-exporter-"))
        self.port = free_port()
        command = [
            sys.executable,
            "-m",
            "cachescope",
            "serve",
            "--web.listen-address",
            f"127.0.0.1:{self.port}",
            *args,
        ]
        full_env = dict(os.environ, **(env or {}))
        self._log = open(self.workdir / "exporter.log", "wb")  # noqa: SIM115 (open while the process runs)
        self.log_path = self.workdir / "exporter.log"
        self.proc = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.workdir, env=full_env
        )
        wait_for(
            lambda: self.get("/-/ready")[0] == 200,
            what=f"exporter on port {self.port}: {self.log()}",
        )

    def get(self, path: str, timeout: float = 30) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def post(self, path: str, timeout: float = 30) -> tuple[int, str]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def metrics(self, path: str = "/metrics") -> Exposition:
        status, body = self.get(path)
        assert status == 200, body
        return Exposition(body)


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Exposition:
    """A parsed text exposition: family types and samples."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.types: dict[str, str] = {}
        self.samples: list[tuple[str, dict[str, str], float]] = []
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                self.types[name] = kind
            elif line and not line.startswith("#"):
                match = _SAMPLE.match(line)
                assert match, f"unparsable sample line: {line!r}"
                labels = dict(_LABEL.findall(match.group(3) or ""))
                self.samples.append((match.group(1), labels, float(match.group(4))))

    def get(self, name: str, **labels: str) -> list[float]:
        return [
            value
            for sample, have, value in self.samples
            if sample == name and all(have.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, **labels: str) -> float:
        values = self.get(name, **labels)
        assert len(values) == 1, f"expected one {name}{labels}, found {values}"
        return values[0]

    def scrape_errors(self, instance: str) -> dict[str, float]:
        """The error kinds a target has hit so far (every kind is exported from the start, at 0)."""
        return {
            labels["error"]: value
            for name, labels, value in self.samples
            if name == "cachescope_scrape_errors_total"
            and labels.get("instance") == instance
            and value > 0
        }

    def names(self) -> set[str]:
        return {name for name, _, _ in self.samples}

    def family_of(self, sample: str) -> str | None:
        """The family a sample name belongs to (summaries add _sum and _count)."""
        if sample in self.types:
            return sample
        for suffix in ("_sum", "_count", "_bucket"):
            if sample.endswith(suffix) and sample[: -len(suffix)] in self.types:
                return sample[: -len(suffix)]
        return None


class Listener:
    """A plain TCP socket that listens but never answers: proves whether anyone connected."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self.connections = 0

    def accepted(self) -> int:
        """Connections made so far (the kernel completes them even though we never reply)."""
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return self.connections
            conn.close()
            self.connections += 1

    def close(self) -> None:
        self.sock.close()


class GoRedisExporter(Process):
    """Debian's prometheus-redis-exporter (oliver006/redis_exporter) on a free port."""

    BINARY = "/usr/bin/prometheus-redis-exporter"

    def __init__(self, redis_uri: str) -> None:
        if not os.path.exists(self.BINARY):
            raise RuntimeError(f"{self.BINARY} is missing; .ci/run installs it")
        self.workdir = Path(tempfile.mkdtemp(prefix="cachescope-redis-exporter-"))
        self.port = free_port()
        super().__init__(
            [
                self.BINARY,
                "-redis.addr",
                redis_uri,
                "-web.listen-address",
                f"127.0.0.1:{self.port}",
            ],
            self.workdir,
            "redis_exporter",
        )
        wait_for(
            lambda: self.get("/")[0] == 200,
            what=f"redis_exporter on port {self.port}: {self.log()}",
        )

    def get(self, path: str, timeout: float = 30) -> tuple[int, str]:
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()

    def metrics(self) -> Exposition:
        status, body = self.get("/metrics")
        assert status == 200, body
        return Exposition(body)


def wait_for_link_up(replica: RedisServer) -> None:
    """Block until the replica has finished its first sync with its primary."""

    def up() -> bool:
        with replica.client(socket_timeout=1) as client:
            info = client.info("replication")
            synced = not info.get("master_sync_in_progress")
            return info.get("master_link_status") == "up" and synced

    wait_for(up, what=f"replica on port {replica.port} to sync")


# Types of the factory fixtures in conftest.py, for annotating tests.
StartRedis = Callable[..., RedisServer]
StartExporter = Callable[..., Exporter]
