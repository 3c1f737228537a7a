"""A target cut by Prometheus' scrape_timeout says so, and a silly header changes nothing."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from cachescope.web.wire import MIN_SCRAPE_TIMEOUT, scrape_budget
from servers import Listener, StartExporter, StartRedis, wait_for

HEADER = "X-Prometheus-Scrape-Timeout-Seconds"


@pytest.mark.unit
@pytest.mark.parametrize("value", ["1e-308", "0.05", "0.0999", "5e-324"])
def test_a_scrape_timeout_below_the_floor_is_ignored(value: str) -> None:
    assert scrape_budget({HEADER.lower(): value}) is None


@pytest.mark.unit
def test_a_scrape_timeout_at_the_floor_is_a_budget() -> None:
    budget = scrape_budget({HEADER.lower(): str(MIN_SCRAPE_TIMEOUT)})
    assert budget is not None and 0 < budget <= MIN_SCRAPE_TIMEOUT


@pytest.mark.live
def test_a_non_ascii_scrape_timeout_is_ignored_not_refused(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis()
    exporter = start_exporter("--target", server.uri)
    with socket.create_connection(("127.0.0.1", exporter.port), timeout=10) as sock:
        value = "\u0661".encode()  # ARABIC-INDIC DIGIT ONE: float() would read it
        sock.sendall(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + HEADER.encode()
            + b": "
            + value
            + b"\r\n\r\n"
        )
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert f'redis_up{{instance="127.0.0.1:{server.port}"}} 1'.encode() in reply


@pytest.mark.live
def test_a_target_cut_by_the_scrape_deadline_is_logged_with_that_cause_and_hint(
    start_exporter: StartExporter, listener: Listener
) -> None:
    exporter = start_exporter("--target", f"redis://127.0.0.1:{listener.port}", "--timeout", "5s")
    request = urllib.request.Request(
        f"http://127.0.0.1:{exporter.port}/metrics", headers={HEADER: "1"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read().decode()
    assert f'redis_up{{instance="127.0.0.1:{listener.port}"}} 0' in body
    target = f"target=127.0.0.1:{listener.port}"
    wait_for(lambda: target in exporter.log(), timeout=5)
    line = next(line for line in exporter.log().splitlines() if target in line)
    assert "scrape's deadline" in line and "scrape_timeout" in line, line
    assert "raise the target's timeout" not in line, line
