"""The guard that keeps `pytest -m unit` free of processes and sockets (tests/livecheck.py)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from livecheck import LIVE_FIXTURES, LIVE_MODULES, LIVE_TESTS, LiveInUnitTest, forbid_live


def test_a_process_start_under_the_guard_raises_and_is_noted() -> None:
    violations: list[str] = []
    with forbid_live(violations), pytest.raises(LiveInUnitTest, match="mark it live"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)
    assert violations == ["to start a process"]


@pytest.mark.live  # it makes a socket (never connected) to show the guard refuse it
@pytest.mark.parametrize("call", ["connect", "bind"])
def test_a_socket_connect_or_bind_under_the_guard_raises_and_is_noted(call: str) -> None:
    violations: list[str] = []
    with socket.socket() as sock, forbid_live(violations), pytest.raises(LiveInUnitTest):
        getattr(sock, call)(("127.0.0.1", 9))
    assert violations == [f"socket.{call}"]


def test_the_guard_is_undone_afterwards() -> None:
    connect, popen = socket.socket.connect, subprocess.Popen.__init__
    with forbid_live([]):
        assert socket.socket.connect is not connect
        assert subprocess.Popen.__init__ is not popen
    assert socket.socket.connect is connect and subprocess.Popen.__init__ is popen


def test_this_module_runs_as_unit(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("live") is None


def test_the_tables_name_modules_that_exist() -> None:
    here = {path.stem for path in Path(__file__).parent.glob("test_*.py")}
    assert here >= LIVE_MODULES and set(LIVE_TESTS) <= here
    assert not set(LIVE_TESTS) & LIVE_MODULES
    assert LIVE_FIXTURES
