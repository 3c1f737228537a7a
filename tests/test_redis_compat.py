"""Drop-in compatibility: redis_exporter's series names, with their types, exist in cachescope.

Debian's prometheus-redis-exporter and cachescope scrape the same real servers;
at least 95% of redis_exporter's families (less Go runtime and its own exporter
metrics) must exist in cachescope's /scrape output with the same TYPE, and every
one that does not must be listed in docs/compatibility.md with the reason.
"""

from __future__ import annotations

import re

import pytest
import redis
from servers import (
    ROOT,
    Exporter,
    Exposition,
    GoRedisExporter,
    RedisServer,
    StartExporter,
    StartRedis,
    wait_for_link_up,
)

REQUIRED_COVERAGE = 0.95
EXCLUDED_PREFIXES = ("go_", "process_", "promhttp_", "redis_exporter_")
EXCLUDED_NAMES = {
    "redis_target_scrape_request_errors_total",  # errors of redis_exporter's own /scrape handler
    "redis_last_key_groups_scrape_duration_milliseconds",  # its -check-key-groups feature
}
DOC = ROOT / "docs" / "compatibility.md"


def documented_differences() -> set[str]:
    """Metric names listed as `- \\`name\\`` under '## Intentional differences'."""
    text = DOC.read_text()
    match = re.search(r"^## Intentional differences\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"{DOC} has no '## Intentional differences' section"
    return set(re.findall(r"^- `([a-zA-Z_:][a-zA-Z0-9_:]*)`", match.group(1), re.M))


def reference_families(metrics: Exposition) -> dict[str, str]:
    return {
        name: kind
        for name, kind in metrics.types.items()
        if not name.startswith(EXCLUDED_PREFIXES) and name not in EXCLUDED_NAMES
    }


def label_names(metrics: Exposition) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for sample, labels, _ in metrics.samples:
        family = metrics.family_of(sample) or sample
        names.setdefault(family, set()).update(k for k in labels if k != "quantile")
    return names


def fill(primary: RedisServer) -> None:
    """Data in several dbs, expiring keys, an error reply, a slow command and a latency spike."""
    for db, count in ((0, 5), (1, 3), (3, 2)):
        client = primary.client(db=db)
        for i in range(count):
            client.set(f"key:{i}", "v", ex=600 if i % 2 else None)
            client.get(f"key:{i}")
        client.get("missing")
        client.hset(f"hash:{db}", mapping={"a": 1})
    client = primary.client()
    for bad in (("LPUSH", "key:0", "x"), ("NOSUCHCOMMAND",)):
        with pytest.raises(redis.ResponseError):
            client.execute_command(*bad)
    client.execute_command("DEBUG", "SLEEP", "0.02")  # a slow log entry and a latency event
    assert client.execute_command("WAIT", 1, 2000) == 1


@pytest.fixture
def servers(start_redis: StartRedis) -> tuple[RedisServer, RedisServer]:
    primary = start_redis(
        "--repl-diskless-sync-delay",
        "0",
        "--enable-debug-command",
        "yes",
        "--slowlog-log-slower-than",
        "10000",
        "--latency-monitor-threshold",
        "5",
    )
    replica = start_redis("--replicaof", "127.0.0.1", str(primary.port))
    wait_for_link_up(replica)
    fill(primary)
    return primary, replica


def compare(server: RedisServer, exporter: Exporter, role: str) -> None:
    reference_exporter = GoRedisExporter(server.uri)
    try:
        reference = reference_exporter.metrics()
    finally:
        reference_exporter.stop()
    status, body = exporter.get(f"/scrape?target={server.uri}")
    assert status == 200, body
    ours = Exposition(body)
    assert reference.value("redis_up") == 1 and ours.value("redis_up") == 1

    families = reference_families(reference)
    assert len(families) > 100, f"redis_exporter exported only {sorted(families)}"
    missing = sorted(name for name, kind in families.items() if ours.types.get(name) != kind)
    covered = len(families) - len(missing)
    print(
        f"\n{role}: cachescope has {covered}/{len(families)} of redis_exporter's families "
        f"with the same type ({covered / len(families):.1%}); missing or retyped: {missing}"
    )
    assert covered / len(families) >= REQUIRED_COVERAGE, missing
    undocumented = [
        f"{name} ({families[name]} there, {ours.types.get(name)} here)"
        for name in missing
        if name not in documented_differences()
    ]
    assert not undocumented, f"not in {DOC.name} '## Intentional differences': {undocumented}"

    ref_labels, our_labels = label_names(reference), label_names(ours)
    relabelled = [
        f"{name}: {sorted(ref_labels[name])} there, {sorted(our_labels[name])} here"
        for name in families
        if name in ours.types
        and name in ref_labels
        and ref_labels[name] != our_labels.get(name, set())
        and name not in documented_differences()
    ]
    assert not relabelled, f"label names differ and are not documented: {relabelled}"

    for db in ("db0", "db1", "db2", "db3"):  # the same numbers, not just the same names
        assert ours.value("redis_db_keys", db=db) == reference.value("redis_db_keys", db=db)
        assert ours.value("redis_db_keys_expiring", db=db) == reference.value(
            "redis_db_keys_expiring", db=db
        )
    assert ours.value("redis_connected_slaves") == reference.value("redis_connected_slaves")
    assert (
        ours.get("redis_instance_info", role=role)
        == reference.get("redis_instance_info", role=role)
        == [1]
    )


def test_primary_exports_redis_exporters_families_with_the_same_types(
    servers: tuple[RedisServer, RedisServer], start_exporter: StartExporter
) -> None:
    primary, replica = servers
    exporter = start_exporter("--target", primary.uri, "--target", replica.uri)
    compare(primary, exporter, "master")


def test_replica_exports_redis_exporters_families_with_the_same_types(
    servers: tuple[RedisServer, RedisServer], start_exporter: StartExporter
) -> None:
    primary, replica = servers
    exporter = start_exporter("--target", primary.uri, "--target", replica.uri)
    compare(replica, exporter, "slave")


def test_compatibility_doc_explains_every_listed_difference() -> None:
    text = DOC.read_text()
    section = text.split("## Intentional differences", 1)[1].split("\n## ", 1)[0]
    entries = re.findall(r"^- `[^`]+`(.*)$", section, re.M)
    assert entries, "the differences section lists nothing"
    assert all(len(reason.strip(" :-")) > 10 for reason in entries), "each entry needs a reason"
