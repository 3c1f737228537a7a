"""Replies that announce or stream more than any server sends cost a bounded amount of memory.

A fake Redis answers INFO with a reply that never ends (a bulk string of 2^63 bytes,
an array of 2^31 elements, a million 1000-byte elements, arrays of arrays); beside it,
two real Redis servers. The fake must fail alone with error="protocol" and a message
that says what was too large, the exporter's peak RSS must stay under PEAK_RSS, and
the healthy targets must read `redis_up 1` on the very first scrape, promptly.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import hostile
import pytest
from hostile import HostileServer
from servers import Exporter, RedisServer, StartExporter, StartRedis

TIMEOUT = 5.0  # the fake's timeout: the caps, not the clock, must end its scrape
# The exporter idles at about 40 MB; a reply within the caps (32 MiB) costs about
# twice that at its peak (hiredis' buffer, then the bytes made from it).
PEAK_RSS_KB = 200 * 1024
FLOODS = {
    "huge-bulk": (hostile.HUGE_BULK, "bulk string of 9223372036854775807 bytes"),
    "huge-array": (hostile.HUGE_ARRAY, "array of 2147483647 elements"),
    # Refused at its announcement now: a million elements would cost 56 MB once parsed.
    "endless-elements": (hostile.ENDLESS_ELEMENTS, "more than 33554432 bytes once parsed"),
    "nested-arrays": (hostile.NESTED_ARRAYS, "elements announced in one round trip"),
    # Within the byte cap, but a dict of 1.9 million fields would cost 600 MB.
    "tiny-fields": (hostile.answers_info_with_tiny_fields(1_900_000), "INFO reply of 3"),
}

Behaviour = Callable[[socket.socket, HostileServer], None]


@pytest.fixture
def flood() -> Iterator[Callable[[Behaviour], HostileServer]]:
    started: list[HostileServer] = []

    def start(behaviour: Behaviour) -> HostileServer:
        started.append(HostileServer(behaviour))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def peak_rss_kb(pid: int) -> int:
    """VmHWM of a live process: the most resident memory it ever had."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1])


@pytest.mark.parametrize(("behaviour", "message"), FLOODS.values(), ids=FLOODS.keys())
def test_flooding_reply_fails_alone_with_bounded_memory(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    flood: Callable[[Behaviour], HostileServer],
    behaviour: Behaviour,
    message: str,
) -> None:
    fake = flood(behaviour)
    healthy = [start_redis(), start_redis()]
    targets = [
        arg
        for uri in [f"redis://{fake.address}"] + [s.uri for s in healthy]
        for arg in ("--target", uri)
    ]
    exporter: Exporter = start_exporter(*targets, "--timeout", f"{TIMEOUT:g}s")
    start = time.monotonic()
    metrics = exporter.metrics()
    # Freeing hiredis' list of an announced 2^31 elements held the interpreter lock
    # for seconds, after the fake's timeout: every other thread waited, /metrics too.
    elapsed = time.monotonic() - start
    assert elapsed < TIMEOUT / 2, f"/metrics took {elapsed:.1f}s"
    assert peak_rss_kb(exporter.proc.pid) < PEAK_RSS_KB
    assert metrics.value("redis_up", instance=fake.address) == 0
    assert metrics.scrape_errors(fake.address) == {"protocol": 1}, exporter.log()
    assert message in exporter.log()
    for server in healthy:
        name = f"127.0.0.1:{server.port}"
        assert metrics.value("redis_up", instance=name) == 1
        duration = metrics.value("cachescope_scrape_duration_seconds", instance=name)
        assert duration < TIMEOUT / 2, f"{name} took {duration:.1f}s beside the flood"
    assert exporter.metrics().value("redis_up", instance=fake.address) == 0  # and again
    assert peak_rss_kb(exporter.proc.pid) < PEAK_RSS_KB


@pytest.mark.parametrize(("behaviour", "message"), FLOODS.values(), ids=FLOODS.keys())
def test_analyze_of_a_flooding_reply_reports_an_error_with_bounded_memory(
    redis_server: RedisServer,
    flood: Callable[[Behaviour], HostileServer],
    behaviour: Behaviour,
    message: str,
    tmp_path: Path,
) -> None:
    fake = flood(behaviour)
    args = ["analyze", "--interval", "1s", "--format", "json", "--timeout", f"{TIMEOUT:g}s"]
    args += [f"redis://{fake.address}", redis_server.uri]
    peak = tmp_path / "peak"
    # VmHWM at exit, from the process itself: a child's ru_maxrss would include
    # the RSS of the pytest process it was forked from.
    wrapper = (
        "import atexit, runpy, sys\n"
        "def peak():\n"
        "    status = open('/proc/self/status').read()\n"
        f"    open({str(peak)!r}, 'w').write(status.split('VmHWM:')[1].split()[0])\n"
        "atexit.register(peak)\n"
        f"sys.argv = ['cachescope', *{args!r}]\n"
        "runpy.run_module('cachescope', run_name='__main__')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapper], capture_output=True, timeout=TIMEOUT * 4, check=False
    )
    out, err = proc.stdout, proc.stderr
    assert proc.returncode == 3, err.decode()
    assert int(peak.read_text()) < PEAK_RSS_KB
    assert b"Traceback" not in out + err
    flooded, healthy = json.loads(out)
    assert flooded["status"] == "error" and healthy["status"] == "success"
    assert flooded["error"].startswith("protocol: ") and message in flooded["error"], flooded


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmRSS:"))
    return int(line.split()[1])


def test_info_field_names_new_on_every_scrape_leave_memory_flat(
    start_exporter: StartExporter, flood: Callable[[Behaviour], HostileServer]
) -> None:
    """Each scrape brings 3,000 new field names, 900 new label values: the caches of
    rendered text fill up in the first scrapes, and then must start over, not grow."""
    fake = flood(hostile.renames_info_fields(3000))
    exporter = start_exporter("--target", f"redis://{fake.address}", "--timeout", "5s")

    def scrape(n: int) -> None:
        metrics = exporter.metrics()
        assert metrics.value("redis_up", instance=fake.address) == 1
        assert metrics.get(f"redis_field_{n}_2999", instance=fake.address) == [2999]

    for n in range(25):  # long enough for every cache to reach its bound
        scrape(n)
    before = rss_kb(exporter.proc.pid)
    for n in range(25, 65):
        scrape(n)
    grown = rss_kb(exporter.proc.pid) - before
    assert grown < 16 * 1024, f"grew by {grown} KiB in 40 scrapes"


def test_six_targets_of_nested_tiny_elements_keep_serve_small(
    start_exporter: StartExporter, flood: Callable[[Behaviour], HostileServer]
) -> None:
    """Arrays of tiny elements cost several times their wire bytes once parsed.

    Each fake's reply stops at the caps; the exporter scrapes all six at once, twice.
    Before the guard charged each element its parsed size, the peak reached 600 MB.
    """
    fakes = [flood(hostile.NESTED_ARRAYS) for _ in range(6)]
    targets = [arg for fake in fakes for arg in ("--target", f"redis://{fake.address}")]
    exporter: Exporter = start_exporter(*targets, "--timeout", f"{TIMEOUT:g}s")
    for _ in range(2):
        metrics = exporter.metrics()
        for fake in fakes:
            assert metrics.value("redis_up", instance=fake.address) == 0
    # 40 MB idle, and six round trips within the 32 MiB cap at once, with room to spare.
    assert peak_rss_kb(exporter.proc.pid) < (40 + 6 * 32 + 100) * 1024
    assert "would take more than" in exporter.log()
