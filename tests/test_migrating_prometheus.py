"""docs/migrating.md's sidecar scrape config: the same command line, the same series."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prometheus import Prometheus
from servers import (
    GoRedisExporter,
    RedisServer,
    StartExporter,
    StartRedis,
    wait_for,
)

PASSWORD = "s1decar-Pa55word-v3"
# Families whose series the rules and dashboards read, compared label by label.
FAMILIES = ("redis_up", "redis_connected_clients", "redis_db_keys", "redis_memory_used_bytes")


class ScrapingPrometheus(Prometheus):
    """A real prometheus with the given scrape configs, scraping every second."""

    def __init__(self, workdir: Path, scrape_configs: list[dict[str, Any]]) -> None:
        config = {"global": {"scrape_interval": "1s"}, "scrape_configs": scrape_configs}
        self.launch(workdir, config)


@pytest.mark.live
def test_sidecar_switch_keeps_every_series_label_for_label(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = start_redis(password=PASSWORD)
    server.client().set("k", "v")
    env = {"REDIS_ADDR": server.uri, "REDIS_PASSWORD": PASSWORD}
    new = start_exporter(env=env)  # redis_exporter's variables, nothing else
    for key, value in env.items():  # the Go exporter inherits the test's environment
        monkeypatch.setenv(key, value)
    old = GoRedisExporter(server.uri)
    prometheus = None
    try:
        job = {  # docs/migrating.md, "One exporter per cache", the first way
            "job_name": "redis",
            "static_configs": [{"targets": [f"127.0.0.1:{old.port}", f"127.0.0.1:{new.port}"]}],
            "metric_relabel_configs": [{"action": "labeldrop", "regex": "exported_instance"}],
        }
        prometheus = ScrapingPrometheus(tmp_path, [job])
        wait_for(lambda: len(prometheus.query("redis_up == 1")) == 2, 60, "both exporters up")
        for family in FAMILIES:
            by_instance = _label_sets(prometheus.query(family))
            assert set(by_instance) == {f"127.0.0.1:{old.port}", f"127.0.0.1:{new.port}"}
            assert by_instance[f"127.0.0.1:{old.port}"] == by_instance[f"127.0.0.1:{new.port}"]
        assert PASSWORD not in new.log()
    finally:
        for process in (prometheus, old):
            if process is not None:
                process.stop()


def _label_sets(
    result: list[dict[str, Any]], job: str | None = None
) -> dict[str, set[tuple[tuple[str, str], ...]]]:
    """instance -> the label sets of its series (of `job`, if given), without instance."""
    out: dict[str, set[tuple[tuple[str, str], ...]]] = {}
    for sample in result:
        labels = dict(sample["metric"])
        if job is not None and labels.pop("job") != job:
            continue
        instance = labels.pop("instance")
        out.setdefault(instance, set()).add(tuple(sorted(labels.items())))
    return out


@pytest.mark.live
def test_multi_target_switch_with_a_json_password_file_keeps_the_series(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    servers = [start_redis(password=PASSWORD), start_redis(password=PASSWORD[::-1])]
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({s.uri: s.password for s in servers}))
    monkeypatch.setenv("REDIS_PASSWORD_FILE", str(passwords))
    monkeypatch.setenv("REDIS_ADDR", "")  # redis_exporter's multi-target mode
    new = start_exporter()
    old = GoRedisExporter("")
    prometheus = None
    try:
        ports = {"old": old.port, "new": new.port}
        jobs = [_multi_target_job(name, port, servers) for name, port in ports.items()]
        prometheus = ScrapingPrometheus(tmp_path, jobs)
        wait_for(lambda: len(prometheus.query("redis_up == 1")) == 4, 60, "4 scrapes up")
        for family in FAMILIES:
            result = prometheus.query(family)
            old_sets, new_sets = _label_sets(result, "old"), _label_sets(result, "new")
            assert old_sets == new_sets and len(old_sets) == 2, family
    finally:
        for process in (prometheus, old):
            if process is not None:
                process.stop()


def _multi_target_job(name: str, port: int, servers: list[RedisServer]) -> dict[str, Any]:
    """docs/migrating.md, "Many caches through one exporter"."""
    return {
        "job_name": name,
        "metrics_path": "/scrape",
        "static_configs": [{"targets": [server.uri for server in servers]}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": f"127.0.0.1:{port}"},
        ],
    }
