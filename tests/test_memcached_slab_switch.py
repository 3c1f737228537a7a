"""The switch that leaves out Memcached's per-slab and per-item families (cardinality)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cachescope.config.loader import parse_config
from cachescope.config.yamlmarks import ConfigError
from hostile import HostileServer, memcached_like
from servers import Exposition, MemcachedServer, StartExporter
from test_analyze import analyze_json
from test_memcached import store

SLAB_COMMANDS = (b"stats slabs\r\n", b"stats items\r\n")


def slab_families(metrics: Exposition, **labels: str) -> set[str]:
    """Names of the per-slab families with a sample carrying `labels`."""
    return {
        name
        for name, sample_labels, _ in metrics.samples
        if "slab" in sample_labels and labels.items() <= sample_labels.items()
    }


def test_switched_off_by_flag_neither_stats_slabs_nor_stats_items_is_sent(
    start_exporter: StartExporter,
) -> None:
    off, on = HostileServer(memcached_like), HostileServer(memcached_like)
    try:
        exporter = start_exporter(
            "--target", f"memcached://{off.address}", "--no-memcached.slab-metrics"
        )
        metrics = exporter.metrics()
        assert metrics.value("memcached_up", instance=off.address) == 1
        assert metrics.value("memcached_current_items", instance=off.address) == 3
        assert slab_families(metrics) == set()
        assert b"stats\r\n" in off.received
        assert not [command for command in SLAB_COMMANDS if command in off.received]
        # The same fake with the switch at its default is sent both.
        metrics = start_exporter("--target", f"memcached://{on.address}").metrics()
        assert slab_families(metrics) >= {"memcached_slab_chunk_size_bytes"}
        assert all(command in on.received for command in SLAB_COMMANDS)
    finally:
        off.stop()
        on.stop()


def test_per_target_config_field_turns_off_one_target_only(
    start_exporter: StartExporter, tmp_path: Path
) -> None:
    quiet, full = MemcachedServer(), MemcachedServer()
    config = tmp_path / "cachescope.yml"
    config.write_text(
        "targets:\n"
        f"  - uri: {quiet.uri}\n    name: quiet\n    slab_metrics: false\n"
        f"  - uri: {full.uri}\n    name: full\n"
    )
    try:
        for server in (quiet, full):
            store(server.port, "key", 100)
        metrics = start_exporter("--config.file", str(config)).metrics()
    finally:
        quiet.stop()
        full.stop()
    assert metrics.value("memcached_up", instance="quiet") == 1
    assert metrics.value("memcached_current_items", instance="quiet") == 1
    assert slab_families(metrics, instance="quiet") == set()
    assert {"memcached_slab_current_items", "memcached_slab_chunk_size_bytes"} <= slab_families(
        metrics, instance="full"
    )


def test_environment_variable_turns_it_off_for_targets_and_allowed_hosts(
    start_exporter: StartExporter,
) -> None:
    server = MemcachedServer()
    try:
        store(server.port, "key", 100)
        exporter = start_exporter(
            "--target",
            server.uri,
            "--scrape.allow",
            "memcached://127.0.0.1:*",
            env={"CACHESCOPE_MEMCACHED_SLAB_METRICS": "false"},
        )
        metrics = exporter.metrics()
        assert metrics.value("memcached_current_items", instance=f"127.0.0.1:{server.port}") == 1
        assert slab_families(metrics) == set()
        other = MemcachedServer()
        try:
            store(other.port, "key", 100)
            scraped = exporter.metrics(f"/scrape?target={other.uri}")
        finally:
            other.stop()
        assert scraped.value("memcached_up") == 1
        assert slab_families(scraped) == set()
    finally:
        server.stop()


def test_config_field_on_a_redis_target_or_not_a_boolean_is_a_located_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("targets:\n  - uri: redis://a:6379\n    slab_metrics: false\n", "c.yml")
    assert "c.yml:3" in str(caught.value) and "slab_metrics" in str(caught.value)
    assert "Memcached" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        parse_config("targets:\n  - uri: memcached://a\n    slab_metrics: 'no'\n", "c.yml")
    assert "c.yml:3" in str(caught.value) and "true or false" in str(caught.value)


@pytest.mark.live
def test_analyze_reports_on_a_target_without_slab_metrics(tmp_path: Path) -> None:
    server = MemcachedServer()
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"targets:\n  - uri: {server.uri}\n    name: quiet\n    slab_metrics: false\n"
    )
    try:
        code, report = analyze_json("--config", str(config), "quiet")
    finally:
        server.stop()
    assert code == 0, report
    assert report["status"] == "success"
    assert report["metrics"]["server"]["kind"] == "memcached"
    assert report["metrics"]["memoryUsage"]["maxmemoryBytes"] == 64 * 1024 * 1024
