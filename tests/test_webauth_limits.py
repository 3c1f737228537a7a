"""Basic auth limits a web config cannot lift: the bcrypt cost, and a stop that waits on bcrypt."""

from __future__ import annotations

import base64
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import bcrypt
import pytest
from servers import free_port, wait_for

PASSWORD = "right-Passw0rd"
GOOD = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
# A cost-31 hash with a valid salt: 2^21 times a cost-10 check, about a day of one core.
COST_31 = "$2b$31$" + GOOD[7:]

# The exporter with bcrypt's check of the dummy hash (the one unknown user names are
# checked against) made endless, as a check at a huge cost would be. It touches MARK
# once the check runs, so the test knows when to send SIGTERM.
_ENDLESS_CHECK = """
import sys, time, bcrypt
MARK = sys.argv.pop(1)
real = bcrypt.checkpw
def endless(password, hashed):
    if not hashed.endswith(b"." * 31):
        return real(password, hashed)
    open(MARK, "w").close()
    time.sleep(3600)
    return False
bcrypt.checkpw = endless
from cachescope.cli import main
main(prog_name="cachescope")
"""


def serve_command(port: int, web: Path, *extra: str) -> list[str]:
    command = ["serve", "--web.listen-address", f"127.0.0.1:{port}", "--web.config.file", str(web)]
    return [*command, "--target", "redis://127.0.0.1:1", *extra]


def test_a_cost_31_hash_stops_the_start_naming_file_line_field_and_the_range(
    tmp_path: Path,
) -> None:
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  prometheus: '{GOOD}'\n  legacy: '{COST_31}'\n")
    command = [sys.executable, "-m", "cachescope", *serve_command(free_port(), web)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert f"{web}:3: basic_auth_users.legacy:" in result.stderr, result.stderr
    assert "must be a bcrypt hash of cost between 4 and 14, not cost 31" in result.stderr
    assert COST_31 not in result.stderr and "Traceback" not in result.stderr


def ask(port: int, user: str, password: str) -> bytes:
    """GET /discover (protected) as `user`: its status line, or b'' if no answer."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = f"GET /discover HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            sock.sendall(request.encode())
            return sock.recv(100).split(b"\r\n", 1)[0]
    except OSError:
        return b""


def test_sigterm_ends_the_exporter_while_a_bcrypt_check_is_still_running(
    tmp_path: Path,
) -> None:
    web = tmp_path / "web.yml"
    web.write_text(f"basic_auth_users:\n  prometheus: '{GOOD}'\n")
    mark, port, grace = tmp_path / "checking", free_port(), 1.0
    command = [sys.executable, "-c", _ENDLESS_CHECK, str(mark)]
    command += serve_command(port, web, "--web.shutdown-timeout", f"{grace:g}s")
    log = (tmp_path / "exporter.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: b" 200" in ask(port, "prometheus", PASSWORD), what="the exporter")
        stranger = threading.Thread(target=ask, args=(port, "nobody", "guess"), daemon=True)
        stranger.start()
        wait_for(mark.exists, what="the unknown user's bcrypt check to start")
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace + 15)
        except subprocess.TimeoutExpired:
            pytest.fail("the exporter still runs 15 s past its shutdown timeout")
        assert "Traceback" not in (tmp_path / "exporter.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
