"""Log lines carry their fields as keys of their own, in logfmt and in JSON alike."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import logfmt
import pytest
from cachescope.logs import fields, logging_settings, setup_logging
from cachescope.workers.pool import share
from hypothesis import given
from hypothesis import strategies as st
from servers import StartExporter, free_port, wait_for


def _config(tmp_path: Path, name: str = "cache-dead") -> str:
    path = tmp_path / "cfg.yml"
    dead = f"127.0.0.1:{free_port()}"  # nothing listens here
    path.write_text(f"targets:\n  - name: {name}\n    uri: redis://{dead}\n")
    return str(path)


def _scraped_by_a_worker() -> str:
    """A target name that a second process scrapes, so that a worker writes its log line."""
    return next(name for name in (f"cache-dead-{i}" for i in range(100)) if share(name, 2) == 1)


def _scrape_failed(entries: list[dict[str, str]], name: str = "cache-dead") -> dict[str, str]:
    found = [entry for entry in entries if entry.get("target") == name]
    assert found, entries
    return found[-1]


@pytest.mark.parametrize("processes", ["1", "2"])
def test_serve_logfmt_puts_target_and_error_in_their_own_keys(
    tmp_path: Path, start_exporter: StartExporter, processes: str
) -> None:
    name = "cache-dead" if processes == "1" else _scraped_by_a_worker()
    config = _config(tmp_path, name)
    exporter = start_exporter("--config.file", config, "--scrape.processes", processes)
    exporter.metrics()
    wait_for(lambda: name in exporter.log(), what="the scrape failure logged")
    entries = [logfmt.parse(line) for line in exporter.log().splitlines()]  # strict: all lines
    entry = _scrape_failed(entries, name)
    assert list(entry)[:3] == ["ts", "level", "msg"]
    assert entry["level"] == "warn" and entry["error"] == "connect"
    assert entry["address"].startswith("redis://127.0.0.1:") and "target=" not in entry["msg"]
    assert {"info", "warn"} >= {e["level"] for e in entries}


@pytest.mark.parametrize("processes", ["1", "2"])
def test_serve_json_puts_target_and_error_in_their_own_keys(
    tmp_path: Path, start_exporter: StartExporter, processes: str
) -> None:
    name = "cache-dead" if processes == "1" else _scraped_by_a_worker()
    config = _config(tmp_path, name)
    exporter = start_exporter(
        "--config.file", config, "--log.format", "json", "--scrape.processes", processes
    )
    exporter.metrics()
    wait_for(lambda: name in exporter.log(), what="the scrape failure logged")
    entries = [json.loads(line) for line in exporter.log().splitlines()]
    entry = _scrape_failed(entries, name)
    assert list(entry)[:3] == ["ts", "level", "msg"]
    assert entry["level"] == "warn" and entry["error"] == "connect"
    assert "target=" not in entry["msg"]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger set up by setup_logging, its output captured."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:], level = saved
    root.setLevel(level)


def _emit(stream: io.StringIO, fmt: str, level: str, value: str) -> str:
    setup_logging(level, fmt)
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    stream.seek(0)
    stream.truncate()
    logging.getLogger("cachescope.test").warning("odd value", extra=fields(detail=value, n=3))
    return stream.getvalue()


@given(st.text())
def test_any_value_round_trips_through_logfmt_and_json(value: str) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        for fmt, parse in (("logfmt", logfmt.parse), ("json", json.loads)):
            text = _emit(stream, fmt, "info", value)
            assert text.endswith("\n") and text.count("\n") == 1, text  # one line, always
            entry = parse(text[:-1])
            assert entry["detail"] == value and entry["msg"] == "odd value"
            assert entry["level"] == "warn" and str(entry["n"]) == "3"
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_spaces_quotes_newlines_and_non_ascii_are_quoted(captured: io.StringIO) -> None:
    line = _emit(captured, "logfmt", "warn", 'a "b"\nc=d é')
    assert ' detail="a \\"b\\"\\nc=d é" ' in line, line
    assert logfmt.parse(line.strip())["detail"] == 'a "b"\nc=d é'


@pytest.mark.parametrize("level", ["warn", "warning", "WARN"])
def test_warn_and_warning_both_set_the_warn_level(captured: io.StringIO, level: str) -> None:
    assert _emit(captured, "logfmt", level, "x")
    logging.getLogger("cachescope.test").info("hidden")
    assert "hidden" not in captured.getvalue()
    assert logging_settings() == ("warn", "logfmt")  # what a worker process is given
