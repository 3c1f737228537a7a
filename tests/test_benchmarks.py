"""The benchmark harness at toy size: it runs end to end and writes a complete table.

Nothing here judges speed; the harness shows speed, in docs/benchmarks.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MEASUREMENTS = [
    "CPU per `/scrape` (ms)",
    "`/scrape` latency p50 (ms)",
    "`/scrape` latency p99 (ms)",
    "all targets: wall (s)",
    "all targets: CPU (s)",
    "peak RSS (MiB)",
    "samples per `/scrape`",
]
GZIP_MEASUREMENTS = [
    "gzip: CPU per `/scrape` (ms)",
    "gzip: `/scrape` latency p50 (ms)",
    "gzip: all targets: wall (s)",
    "gzip: all targets: CPU (s)",
    "all targets: bytes sent, plain (KiB)",
    "all targets: bytes sent, gzip (KiB)",
]


def table_rows(text: str, section: str) -> dict[str, list[str]]:
    """Rows of the first table after `section`, keyed by their measurement column."""
    lines = text.split(section, 1)[1].splitlines()
    rows: dict[str, list[str]] = {}
    for line in lines[2:]:
        if rows and not line.startswith("|"):
            break
        if line.startswith("|") and not line.startswith(("| targets", "|---")):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            rows[cells[1]] = cells
    return rows


def test_harness_at_two_targets_writes_every_row_with_positive_numbers(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    argv = ["--targets", "2", "--scrapes", "20", "--rounds", "2", "--memcached", "1"]
    subprocess.run(
        [sys.executable, "-m", "benchmarks", *argv, "--output", str(output)],
        cwd=ROOT,
        check=True,
        timeout=300,
        capture_output=True,
    )
    text = output.read_text()
    assert f"python -m benchmarks {' '.join(argv)} --output {output}" in text
    assert "Python 3." in text and "nproc" in text

    redis = table_rows(text, "## Redis, side by side")
    assert list(redis) == MEASUREMENTS + GZIP_MEASUREMENTS
    for measurement, (targets, _, ours, theirs, ratio) in redis.items():
        assert targets == "2", measurement
        assert float(ours.replace(",", "")) > 0, measurement
        assert float(theirs.replace(",", "")) > 0, measurement
        assert ratio.endswith("x"), measurement
    for exporter in (2, 3):  # both compress what Prometheus asks to have compressed
        plain = float(redis["all targets: bytes sent, plain (KiB)"][exporter].replace(",", ""))
        packed = float(redis["all targets: bytes sent, gzip (KiB)"][exporter].replace(",", ""))
        assert packed < plain / 3

    memcached = table_rows(text, "## Memcached")
    assert list(memcached) == MEASUREMENTS
    assert all(float(cells[2].replace(",", "")) > 0 for cells in memcached.values())


def test_harness_leaves_no_server_running(tmp_path: Path) -> None:
    """Every server and exporter runs in the harness' temporary directory; none outlives it."""
    argv = ["--targets", "1", "--scrapes", "5", "--rounds", "1", "--memcached", "1"]
    subprocess.run(
        [sys.executable, "-m", "benchmarks", *argv, "--output", str(tmp_path / "out.md")],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        check=True,
        timeout=300,
        capture_output=True,
    )
    assert processes_in(tmp_path) == []


def processes_in(directory: Path) -> list[str]:
    """Pids of processes whose working directory is under `directory`."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(proc.joinpath("cwd").readlink()).startswith(
                str(directory)
            ):
                found.append(proc.name)
        except OSError:  # gone, or not ours to look at
            continue
    return found
