"""A target that echoes the configured password in its replies never gets it shown.

Two hostile fakes log in with the password, then echo it back in every form they can:
one refuses INFO with an error that repeats it (raw, upper- and lower-cased,
percent-encoded); the other answers INFO with the password as a replica's address and
an upper-cased errorstats kind, and refuses CONFIG and SLOWLOG echoing it. Neither the
exporter (/metrics, the status page, its debug log) nor `cachescope analyze` (table and
JSON) may show it in any case or encoding.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import hostile
import pytest
from hostile import HostileServer
from servers import StartExporter, wait_for

PASSWORDS = ["Sup3r/S#cr?t@x%41y", "Ech0\"q\\'&<z>"]


REFUSAL = 'command=SLOWLOG reply="NOPERM'


def forms(password: str) -> set[str]:
    """The password as a page, a label, JSON, a log line or a server might spell it."""
    return {
        password,
        quote(password, safe=""),
        quote(password),
        html.escape(password),
        json.dumps(password)[1:-1],
        repr(password)[1:-1],
        password.replace("\\", "\\\\").replace('"', '\\"'),
    }


def leaks(text: str, password: str) -> list[str]:
    """Every form of the password found in `text`, compared case-insensitively."""
    lowered = text.lower()
    return sorted(form for form in forms(password) if form.lower() in lowered)


def echoes(password: str) -> str:
    """The password as a careless server repeats it: as is, in both cases, URL-encoded."""
    return f"{password} {password.upper()} {password.lower()} {quote(password, safe='')}"


def info_reply(password: str) -> bytes:
    body = (
        "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nuptime_in_seconds:100\r\n"
        "# Memory\r\nused_memory:1000\r\nmaxmemory:0\r\n"
        "# Replication\r\nrole:master\r\nconnected_slaves:1\r\n"
        f"slave0:ip={password},port=1,state=online,offset=1,lag=0\r\nmaster_repl_offset:1\r\n"
        f"# Errorstats\r\nerrorstat_{password.upper()}:count=3\r\n"
    ).encode()
    return b"$%d\r\n%s\r\n" % (len(body), body)


def refusing_info(password: str) -> hostile.RedisAnswer:
    def answer(command: list[bytes]) -> bytes:
        if command[0].upper() == b"INFO":
            return f"-ERR info denied for {echoes(password)}\r\n".encode()
        return b"+OK\r\n"

    return answer


def reporting_it(password: str) -> hostile.RedisAnswer:
    def answer(command: list[bytes]) -> bytes:
        name = command[0].upper()
        if name == b"INFO":
            return info_reply(password)
        if name == b"CONFIG":
            return f"-ERR config refused for {echoes(password)}\r\n".encode()
        if name == b"SLOWLOG":
            return f"-NOPERM no permissions to run 'slowlog' for {echoes(password)}\r\n".encode()
        if name == b"LATENCY":
            return b"*0\r\n"
        return b"+OK\r\n"

    return answer


@pytest.fixture(params=PASSWORDS, ids=["url-chars", "quotes-and-html"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(password, config file) with targets `denies` (INFO refused) and `reports` (echoes)."""
    password = request.param
    denies = HostileServer(hostile.redis_like(refusing_info(password)))
    reports = HostileServer(hostile.redis_like(reporting_it(password)))
    (tmp_path / "pw").write_text(password)
    config = tmp_path / "cachescope.yml"
    config.write_text(
        "targets:\n"
        + "".join(
            f"  - uri: redis://{server.address}\n    name: {name}\n"
            f"    password_file: {tmp_path / 'pw'}\n"
            for name, server in (("denies", denies), ("reports", reports))
        )
    )
    yield password, config
    denies.stop()
    reports.stop()


def test_the_exporter_never_shows_a_password_the_target_echoes(
    start_exporter: StartExporter, setup: tuple[str, Path]
) -> None:
    password, config = setup
    exporter = start_exporter("--config.file", str(config), "--log.level", "debug")
    status, metrics = exporter.get("/metrics")
    assert status == 200
    assert "info denied for <redacted>" in metrics  # the error survives, the secret does not
    assert 'err="<redacted>"' in metrics  # the upper-cased errorstats kind
    _, page = exporter.get("/")
    assert "info denied for" in page
    _, single = exporter.get("/scrape?target=reports")
    wait_for(lambda: "config refused for" in exporter.log(), what="the CONFIG debug line")
    wait_for(lambda: REFUSAL in exporter.log(), what="the SLOWLOG refusal")
    for where, text in (("/metrics", metrics), ("/", page), ("/scrape", single)):
        assert leaks(text, password) == [], where
    assert leaks(exporter.log(), password) == [], exporter.log()


def analyze(config: Path, fmt: str) -> tuple[str, str]:
    """`cachescope analyze` of both targets in a real process: its stdout and stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "cachescope", "analyze", "--config", str(config)]
        + ["--interval", "1s", "--format", fmt, "denies", "reports"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3, result.stderr  # `denies` cannot be read
    return result.stdout, result.stderr


def test_analyze_never_shows_a_password_the_target_echoes(setup: tuple[str, Path]) -> None:
    password, config = setup
    table, log = analyze(config, "table")
    assert "info denied for <redacted>" in table
    assert REFUSAL in log  # the SLOWLOG refusal's warning, as logfmt on stderr
    assert leaks(table + log, password) == [], table + log
    text, log = analyze(config, "json")
    assert leaks(text + log, password) == [], text + log
    denied, reported = json.loads(text)
    assert "info denied for <redacted>" in denied["error"]
    replicas = reported["metrics"]["replication"]["replicas"]
    assert [replica["address"] for replica in replicas] == ["<redacted>:1"]
