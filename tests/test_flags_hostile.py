"""Flags and their environment variables are held to the same ranges as the config file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from servers import free_port


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`cachescope serve ARGS`, expected to refuse to start."""
    command = [sys.executable, "-m", "cachescope", "serve", "--web.listen-address"]
    command += [f"127.0.0.1:{free_port()}", "--target", "redis://127.0.0.1:1", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=30, env=dict(os.environ, **(env or {}))
    )


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (("--timeout", "99999999999h"), {}, "--timeout: must be a duration between 1ms and 10m"),
        (("--timeout", ".nan"), {}, "between 1ms and 10m"),
        (("--timeout", "0.0000001"), {}, "--timeout: must be a duration between 1ms and 10m"),
        ((), {"CACHESCOPE_TIMEOUT": "100000000000"}, "--timeout: must be a duration between"),
        (
            ("--web.shutdown-timeout", "99999999999h"),
            {},
            "--web.shutdown-timeout: must be a duration between",
        ),
        (("--max-concurrency", "0"), {}, "1<=x<=4096"),
        ((), {"CACHESCOPE_MAX_CONCURRENCY": "99999999999"}, "1<=x<=4096"),
        (("--web.max-connections", "0"), {}, "1<=x<=65536"),
        (("--scrape.processes", "-1"), {}, "0<=x<=256"),
    ],
)
def test_serve_refuses_a_number_out_of_range(
    args: tuple[str, ...], env: dict[str, str], words: str
) -> None:
    result = serve(*args, env=env)
    assert result.returncode == 2, result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["fifo", "device", "big"])
def test_serve_refuses_a_password_file_that_is_no_small_regular_file(
    tmp_path: Path, kind: str
) -> None:
    secret = tmp_path / "pw"
    if kind == "fifo":
        os.mkfifo(secret)
    elif kind == "big":
        secret.write_bytes(b"x" * (1 << 20))
    path = "/dev/zero" if kind == "device" else str(secret)
    result = serve("--redis.password-file", path)
    assert result.returncode == 2, result.stderr
    assert f"--redis.password-file: cannot read {path}: " in result.stderr
    assert ("larger than 64 KiB" if kind == "big" else "not a regular file") in result.stderr
