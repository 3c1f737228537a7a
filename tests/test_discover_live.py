"""The README's scrape configs in a real Prometheus: /metrics, and /discover + /scrape.

The same caches must come out with the same `instance` and the same per-target labels in
both modes, and with no `exported_*` label: a label that /discover sets and /scrape returns
again is kept twice, the scraped one renamed to `exported_<label>`. The jobs are taken from
README.md itself, so the README is what is tested.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus import Prometheus
from servers import (
    Exporter,
    MemcachedServer,
    Process,
    RedisServer,
    wait_for,
)
from topology_servers import Sentinel

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER = "cachescope.internal:9808"  # the exporter's address in the README's examples
UP = '{__name__=~"redis_up|memcached_up"}'


def readme_jobs() -> dict[str, dict[str, Any]]:
    """The README's scrape jobs by mode: 'metrics', 'static' (/scrape) and 'discover'."""
    text = (ROOT / "README.md").read_text()
    jobs: dict[str, dict[str, Any]] = {}
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        if "job_name" not in block:
            continue
        loaded = yaml.safe_load(block)
        for job in loaded["scrape_configs"] if isinstance(loaded, dict) else loaded:
            if "http_sd_configs" in job:
                jobs["discover"] = job
            elif job.get("metrics_path") == "/scrape":
                jobs["static"] = job
            else:
                jobs["metrics"] = job
    assert set(jobs) == {"metrics", "static", "discover"}, "README lost a scrape config"
    return jobs


class ReadmePrometheus(Prometheus):
    """prometheus running the README's three jobs against one exporter."""

    def __init__(self, workdir: Path, exporter_port: int, static_targets: list[str]) -> None:
        jobs = []
        for mode, job in readme_jobs().items():
            job = dict(job, job_name=mode, scrape_interval="1s")
            if mode == "static":
                job["static_configs"] = [{"targets": static_targets}]
            text = yaml.safe_dump(job).replace(PLACEHOLDER, f"127.0.0.1:{exporter_port}")
            jobs.append(yaml.safe_load(text))
        config = {"global": {"scrape_interval": "1s"}, "scrape_configs": jobs}
        self.launch(workdir, config)

    def series(self, job: str) -> set[frozenset[tuple[str, str]]]:
        """The label sets of `job`'s *_up series, job and the metric name left out."""
        return {
            frozenset((k, v) for k, v in s["metric"].items() if k not in ("job", "__name__"))
            for s in self.query(f'{UP[:-1]},job="{job}"}}')
        }


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[Path, list[str], int]]:
    """Caches behind one exporter config: its path, the static /scrape targets, the count."""
    named, two_dbs, sessions = RedisServer(), RedisServer(), MemcachedServer()
    primary = RedisServer()
    sentinel = Sentinel(primary.port, quorum=1)
    processes: list[Process] = [named, two_dbs, sessions, primary, sentinel]
    config = tmp_path / "cachescope.yml"
    config.write_text(f"""
targets:
  - uri: {named.uri}
    name: cache-a
    labels: {{team: payments, env: prod}}
  - uri: {two_dbs.uri}/0
  - uri: {two_dbs.uri}/1
    labels: {{team: orders}}
  - uri: {sessions.uri}
    labels: {{team: web}}
  - uri: {sentinel.uri}
    name: sentinel-a
    discover: sentinel
""")
    # As a static /scrape user lists them: by name where one is written, else by URI.
    static = ["cache-a", f"{two_dbs.uri}/0", f"{two_dbs.uri}/1", sessions.uri, "sentinel-a"]
    try:
        yield config, static, 6  # the five above and the primary the sentinel names
    finally:
        for process in processes:
            process.stop()


def test_discover_and_scrape_give_the_same_instances_and_labels_as_metrics(
    fleet: tuple[Path, list[str], int], tmp_path: Path
) -> None:
    config, static, count = fleet
    exporter = Exporter("--config.file", str(config))
    prometheus = ReadmePrometheus(tmp_path, exporter.port, static)
    try:
        wait_for(
            lambda: len(prometheus.query(f"{UP} == 1")) == 2 * count + len(static),
            30,
            f"every target up in every job: {prometheus.query(UP)}",
        )
        exported = [name for name in prometheus.api("/api/v1/labels")["data"]]  # type: ignore[index]
        assert [name for name in exported if name.startswith("exported_")] == []
        by_metrics, by_discover = prometheus.series("metrics"), prometheus.series("discover")
        assert by_discover == by_metrics
        # A static /scrape job lists only what its user wrote, not the discovered primary.
        assert prometheus.series("static") <= by_metrics
        assert len(prometheus.series("static")) == len(static)
        instances = {dict(labels)["instance"] for labels in by_metrics}
        assert {"cache-a", "sentinel-a"} < instances
        assert any(name.endswith("/1") for name in instances)  # the second database
        assert ("team", "payments") in next(s for s in by_metrics if ("instance", "cache-a") in s)
    finally:
        prometheus.stop()
        exporter.stop()
