"""Every endpoint's output, read by parsers that are not ours: prometheus_client's and promtool's.

Our own `Exposition` helper reads what our own writer writes; a mistake shared by
both (a label set cut short, a family split in two, an unescaped quote) would pass
every other test. Here each body goes through prometheus_client's text parser, which
must account for every sample line, and through `promtool check metrics`, which may
object to names kept for redis_exporter's and memcached_exporter's sake, and to
nothing else.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from prometheus_client.parser import text_string_to_metric_families
from servers import (
    Exporter,
    MemcachedServer,
    RedisServer,
    StartExporter,
    StartRedis,
    free_port,
    wait_for,
    wait_for_link_up,
)

pytestmark = pytest.mark.live

# What promtool's linter may say about names chosen for drop-in compatibility.
_NAMING_LINTS = re.compile(
    r"^\S+ (metric names should not contain abbreviated units"
    r'|counter metrics should have "_total" suffix'
    r'|non-counter metrics should not have "_total" suffix'
    r"|metric names should not include type '\w+'"
    r"|metric names should not contain metric type suffixes"
    r"|metric names should not include the units?.*)$"
)


@dataclass(slots=True)
class Parsed:
    """A body as prometheus_client reads it: families by name, samples by family."""

    types: dict[str, str]
    samples: dict[str, list[tuple[str, dict[str, str], float]]]


def parse_independently(body: str) -> Parsed:
    """Parse with prometheus_client; every sample line and family must be accounted for."""
    types: dict[str, str] = {}
    samples: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body):
        assert family.name not in types, f"family {family.name} appears twice"
        types[family.name] = family.type
        samples[family.name] = [(s.name, s.labels, s.value) for s in family.samples]
    lines = [line for line in body.splitlines() if line and not line.startswith("#")]
    assert sum(map(len, samples.values())) == len(lines), "the parser and the body disagree"
    declared = [line.split(" ")[2] for line in body.splitlines() if line.startswith("# TYPE ")]
    assert len(declared) == len(set(declared)) == len(types), "a family repeats or lacks a TYPE"
    for family_samples in samples.values():
        keys = [(name, tuple(sorted(labels.items()))) for name, labels, _ in family_samples]
        assert len(keys) == len(set(keys)), f"duplicate series in {family_samples[0][0]}"
    return Parsed(types, samples)


def promtool_objections(body: str) -> list[str]:
    """What `promtool check metrics` says beyond the naming lints compatibility costs us."""
    promtool = shutil.which("promtool")
    if promtool is None:
        return []
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=60
    )
    said = (result.stdout + result.stderr).splitlines()
    objections = [line for line in said if line and not _NAMING_LINTS.match(line)]
    if result.returncode not in (0, 3):  # 3: lint problems only; 1: it could not parse
        objections.append(f"promtool exited {result.returncode}")
    return objections


def checked(body: str) -> Parsed:
    parsed = parse_independently(body)
    assert promtool_objections(body) == []
    return parsed


def scrape(exporter: Exporter, target: str) -> str:
    status, body = exporter.get("/scrape?target=" + quote(target, safe=""))
    assert status == 200, body
    return body


@dataclass(slots=True)
class Fleet:
    exporter: Exporter
    primary: RedisServer
    replica: RedisServer
    memcached: MemcachedServer


def _busy_primary(primary: RedisServer) -> None:
    """Data and traffic for every section: keyspaces, streams, errors, commands."""
    client = primary.client()
    for db in (0, 3):
        client.execute_command("SELECT", db)
        client.mset({f"k{n}": n for n in range(50)})
        client.expire("k1", 1000)
        client.xadd("events", {"a": 1})
        client.hset('h"quoted', "f", "v")
    for _ in range(3):
        with pytest.raises(Exception):  # noqa: B017 (any error reply will do: it is counted)
            client.execute_command("INCR", "events")
    client.close()


@pytest.fixture
def fleet(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    memcached_server: MemcachedServer,
    tmp_path: Path,
) -> Fleet:
    primary = start_redis("--repl-diskless-sync-delay", "0", "--latency-tracking", "yes")
    replica = start_redis("--replicaof", "127.0.0.1", str(primary.port))
    wait_for_link_up(replica)
    _busy_primary(primary)
    with socket.create_connection(("127.0.0.1", memcached_server.port), timeout=5) as sock:
        sock.sendall(b"set a 0 0 1\r\nx\r\nget a\r\nget b\r\n")
        wait_for(lambda: sock.recv(1000).endswith(b"END\r\n"), what="memcached's replies")
    config = tmp_path / "cachescope.yml"
    config.write_text(
        "targets:\n"
        f"  - uri: {primary.uri}\n    name: primary\n    labels: {{team: 'a\"b'}}\n"
        "    keyspace: {interval: 1s}\n"
        f"  - uri: {replica.uri}\n    name: replica\n"
        f"  - uri: {memcached_server.uri}\n    name: cache\n"
        f"  - uri: redis://127.0.0.1:{free_port()}\n    name: down\n"
    )
    exporter = start_exporter("--config.file", str(config), "--timeout", "2s")
    wait_for(lambda: "redis_latency_percentiles_usec" in exporter.get("/metrics")[1])
    wait_for(
        lambda: "redis_keyspace_sample_age_seconds" in scrape(exporter, "primary"),
        what="a keyspace sample of the primary",
    )
    return Fleet(exporter, primary, replica, memcached_server)


def test_metrics_with_every_target_kind_parses_as_one_exposition(fleet: Fleet) -> None:
    parsed = checked(fleet.exporter.get("/metrics")[1])
    up = {labels["instance"]: value for _, labels, value in parsed.samples["redis_up"]}
    assert up == {"primary": 1, "replica": 1, "down": 0}
    assert [value for _, _, value in parsed.samples["memcached_up"]] == [1]
    assert parsed.types["cachescope_build_info"] == "gauge"  # the exporter's own metrics
    assert parsed.types["redis_latency_percentiles_usec"] == "summary"


def test_scrape_of_a_busy_primary_parses_with_its_odd_labels_intact(fleet: Fleet) -> None:
    parsed = checked(scrape(fleet.exporter, "primary"))
    keys = {labels["db"]: value for _, labels, value in parsed.samples["redis_db_keys"]}
    assert keys["db0"] == keys["db3"] == 52 and keys["db1"] == 0
    assert all(labels["team"] == 'a"b' for _, labels, _ in parsed.samples["redis_db_keys"])
    summary = parsed.samples["redis_latency_percentiles_usec"]
    assert {"redis_latency_percentiles_usec_sum", "redis_latency_percentiles_usec_count"} <= {
        name for name, _, _ in summary
    }
    assert any(labels.get("quantile") == "99.9" for _, labels, _ in summary)
    errors = {labels["err"]: value for _, labels, value in parsed.samples["redis_errors"]}
    assert errors["WRONGTYPE"] == 3 and errors["OOM"] == 0
    assert parsed.types["redis_key_group_keys_estimated"] == "gauge"  # the keyspace sampler's


def test_scrape_of_a_replica_parses(fleet: Fleet) -> None:
    parsed = checked(scrape(fleet.exporter, "replica"))
    assert [value for _, _, value in parsed.samples["redis_master_link_up"]] == [1]


def test_scrape_of_memcached_parses_with_its_slabs(fleet: Fleet) -> None:
    parsed = checked(scrape(fleet.exporter, "cache"))
    commands = {
        (labels["command"], labels["status"]): value
        for _, labels, value in parsed.samples["memcached_commands"]
    }
    assert commands[("get", "hit")] == 1 and commands[("get", "miss")] == 1
    assert any(
        labels.get("slab") == "1" for _, labels, _ in parsed.samples["memcached_slab_commands"]
    )


def test_scrape_of_a_failing_target_parses_and_says_down(fleet: Fleet) -> None:
    parsed = checked(scrape(fleet.exporter, "down"))
    assert [value for _, _, value in parsed.samples["redis_up"]] == [0]
    errors = {labels["error"]: v for _, labels, v in parsed.samples["cachescope_scrape_errors"]}
    assert sum(errors.values()) >= 1


def test_promtool_is_not_fooled_here() -> None:
    """The check itself: a broken label set and a repeated family are objected to."""
    if shutil.which("promtool") is None:
        pytest.skip("no promtool")
    assert promtool_objections('# TYPE a gauge\na{x="1} 1\n')
    assert promtool_objections("# TYPE a gauge\na 1\n# TYPE a gauge\na 2\n")
    assert promtool_objections("# HELP a_total A.\n# TYPE a_total counter\na_total 1\n") == []
