"""`cachescope mcp --transport http` as a child process, and the SDK's client to talk to it."""

from __future__ import annotations

import base64
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from servers import free_port, wait_for


def basic_header(user: str, password: str) -> dict[str, str]:
    """The Authorization header of HTTP basic auth."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class McpHttp:
    """`python -m cachescope mcp --transport http` on a free loopback port; stderr kept apart."""

    def __init__(self, *args: str, tls: bool = False, wait: bool = True) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="cachescope-mcp-"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"{'https' if tls else 'http'}://{self.address}/mcp"
        command = [sys.executable, "-m", "cachescope", "mcp", "--transport", "http"]
        command += ["--web.listen-address", self.address, *args]
        self.stderr_path = self.workdir / "stderr.log"
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115 (open while the process runs)
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            cwd=self.workdir,
            env=dict(os.environ),
        )
        if wait:
            wait_for(self._listening, what=f"cachescope mcp on {self.address}: {self.stderr()}")

    def _listening(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"cachescope mcp exited {self.proc.returncode}: {self.stderr()}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=1):
            return True

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def terminate(self, timeout: float = 10, sig: signal.Signals = signal.SIGTERM) -> int:
        """SIGTERM (or `sig`), and the exit code once it has stopped."""
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()


@asynccontextmanager
async def mcp_client(
    url: str, headers: dict[str, str] | None = None, ca_file: str | None = None
) -> AsyncIterator[Client]:
    """The SDK's own client over streamable HTTP, with extra headers and a CA to trust."""
    verify: ssl.SSLContext | bool = True
    if ca_file is not None:
        verify = ssl.create_default_context(cafile=ca_file)
    http = httpx2.AsyncClient(headers=headers or {}, verify=verify, timeout=30)
    async with http, Client(streamable_http_client(url, http_client=http)) as client:
        yield client
