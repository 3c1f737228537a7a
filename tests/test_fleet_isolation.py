"""A fleet of a thousand targets with a tenth of them stalled: every healthy one is up."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import RedisServer, StartExporter, StartRedis

HEALTHY, STALLED = 900, 100


@pytest.fixture
def stalled_ports() -> Iterator[list[int]]:
    """Ports whose listener completes the handshake (the kernel does) but never answers."""
    listeners = []
    for _ in range(STALLED):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listeners.append(listener)
    yield [int(listener.getsockname()[1]) for listener in listeners]
    for listener in listeners:
        listener.close()


def test_a_tenth_of_a_thousand_targets_stalled_costs_no_healthy_target(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    stalled_ports: list[int],
    tmp_path: Path,
) -> None:
    servers: list[RedisServer] = [start_redis() for _ in range(3)]
    lines = [f"  - uri: {servers[i % 3].uri}\n    name: healthy-{i}\n" for i in range(HEALTHY)]
    lines += [
        f"  - uri: redis://127.0.0.1:{port}\n    name: stalled-{i}\n"
        for i, port in enumerate(stalled_ports)
    ]
    config = tmp_path / "cachescope.yml"
    config.write_text("targets:\n" + "".join(lines))
    exporter = start_exporter("--config.file", str(config), "--timeout", "1s")
    for scrape in (1, 2):
        metrics = exporter.metrics()
        down = [
            i for i in range(HEALTHY) if metrics.value("redis_up", instance=f"healthy-{i}") != 1
        ]
        assert down == [], f"healthy targets down on scrape {scrape}: {down[:10]}..."
        stalled = [metrics.value("redis_up", instance=f"stalled-{i}") for i in range(STALLED)]
        assert stalled == [0] * STALLED
