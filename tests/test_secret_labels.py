"""A server that reports a configured secret as a string field: it never leaves as a label."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hostile
import pytest
from hostile import HostileServer
from servers import StartExporter

PASSWORD = 'lbl-Secret"pw\\9'  # a quote and a backslash: the exposition escapes both
FIXTURE = Path(__file__).parent / "fixtures" / "redis_stack_info.txt"


def info_with_secret() -> bytes:
    text = FIXTURE.read_text().replace("os:Linux 6.1.0 x86_64", f"os:{PASSWORD}")
    text = text.replace("run_id:", f"run_id:x{PASSWORD}y")  # inside a value, too
    body = text.replace("\n", "\r\n").encode()
    return b"$%d\r\n%s\r\n" % (len(body), body)


def answer(command: list[bytes]) -> bytes:
    name = command[0].upper()
    if name in (b"AUTH", b"PING"):
        return b"+OK\r\n"
    if name == b"INFO":
        return info_with_secret()
    return b"-ERR unknown command\r\n"


@pytest.fixture
def echoing() -> Iterator[HostileServer]:
    server = HostileServer(hostile.redis_like(answer))
    yield server
    server.stop()


def test_a_secret_reported_as_a_string_field_is_redacted_from_label_values(
    start_exporter: StartExporter, tmp_path: Path, echoing: HostileServer
) -> None:
    config = tmp_path / "cachescope.yml"
    escaped = PASSWORD.replace("\\", "\\\\").replace('"', '\\"')
    config.write_text(
        f"targets:\n  - uri: redis://{echoing.address}\n    name: echo\n"
        f"    password: '{PASSWORD}'\n"
    )
    exporter = start_exporter("--config.file", str(config), "--timeout", "2s")
    status, body = exporter.get("/metrics")
    assert status == 200
    assert b"AUTH" in echoing.received  # the password went where it was configured for
    assert "redis_instance_info{" in body, body[:2000]
    assert escaped not in body and PASSWORD not in body
    assert 'os="<redacted>"' in body
    status, body = exporter.get("/scrape?target=echo")
    assert status == 200 and escaped not in body and 'os="<redacted>"' in body
