"""Scrape worker processes: /metrics split over processes reads as one exporter's."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from cachescope.workers.pool import (
    AUTO_MAX_PROCESSES,
    AUTO_MIN_TARGETS,
    cpu_quota,
    process_count,
    share,
    usable_cpus,
)
from servers import (
    Exporter,
    Exposition,
    MemcachedServer,
    RedisServer,
    StartExporter,
    StartRedis,
    free_port,
    wait_for,
)


def workers_of(exporter: Exporter) -> list[int]:
    """Pids of the exporter's scrape workers."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdecimal():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == exporter.proc.pid and b"cachescope.workers.worker" in command:
            found.append(int(entry))
    return found


def busy_workers(servers: list[RedisServer], processes: int) -> int:
    """Workers that have targets (a worker starts only for a non-empty share)."""
    return len({share(s.uri.removeprefix("redis://"), processes) for s in servers} - {0})


def assert_one_block_per_family(exposition: Exposition) -> None:
    """Each family has one TYPE line and its samples together, as the text format requires."""
    seen: list[str] = []
    for line in exposition.text.splitlines():
        if line.startswith("# TYPE "):
            name = line.split(" ")[2]
            assert name not in seen, f"second TYPE line for {name}"
            seen.append(name)
        elif line and not line.startswith("#"):
            sample = line.split("{")[0].split(" ")[0]
            assert exposition.family_of(sample) in (seen[-1], None) or sample.startswith(
                seen[-1]
            ), f"{sample} outside its family block (last family {seen[-1]})"


def up_by_instance(metrics: Exposition, servers: list[RedisServer]) -> dict[str, float]:
    return {
        s.uri.removeprefix("redis://"): metrics.value(
            "redis_up", instance=s.uri.removeprefix("redis://")
        )
        for s in servers
    }


@pytest.fixture
def fleet(start_redis: StartRedis) -> list[RedisServer]:
    servers = [start_redis() for _ in range(6)]
    while busy_workers(servers, 3) < 2:  # both workers of three processes get targets
        assert len(servers) < 30, "target names never hashed to both workers"
        servers.append(start_redis())
    for index, server in enumerate(servers):
        server.client().set(f"key:{index}", "x")
    return servers


def start(start_exporter: StartExporter, servers: list[RedisServer], *extra: str) -> Exporter:
    targets = [arg for server in servers for arg in ("--target", server.uri)]
    return start_exporter("--scrape.processes", "3", "--timeout", "1s", *targets, *extra)


def test_metrics_through_two_workers_has_every_target_once_in_one_block_per_family(
    fleet: list[RedisServer], start_exporter: StartExporter
) -> None:
    exporter = start(start_exporter, fleet)
    metrics = exporter.metrics()
    assert up_by_instance(metrics, fleet) == {s.uri.removeprefix("redis://"): 1.0 for s in fleet}
    assert_one_block_per_family(metrics)
    assert len(metrics.get("redis_instance_info")) == len(fleet)
    assert len(workers_of(exporter)) == busy_workers(fleet, 3)  # this process has a share too
    assert metrics.value("cachescope_scrape_processes") == 3
    # The status page mirrors what the workers found.
    status, page = exporter.get("/")
    assert status == 200 and f"Targets: {len(fleet)} up, 0 down" in page


def test_a_stopped_server_behind_a_worker_is_up_0_with_a_connect_error(
    fleet: list[RedisServer], start_exporter: StartExporter
) -> None:
    exporter = start(start_exporter, fleet)
    exporter.metrics()
    fleet[0].stop()
    metrics = exporter.metrics()
    instance = fleet[0].uri.removeprefix("redis://")
    assert metrics.value("redis_up", instance=instance) == 0
    assert metrics.scrape_errors(instance).get("connect", 0) >= 1
    assert sum(metrics.get("redis_up")) == len(fleet) - 1


def test_a_killed_worker_is_replaced_and_its_targets_come_back(
    fleet: list[RedisServer], start_exporter: StartExporter
) -> None:
    exporter = start(start_exporter, fleet)
    exporter.metrics()
    workers = len(workers_of(exporter))
    killed = workers_of(exporter)[0]
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: killed not in workers_of(exporter), what="killed worker reaped")
    metrics = exporter.metrics()
    assert len(metrics.get("redis_up")) == len(fleet)  # every target reported, even now
    metrics = exporter.metrics()
    assert sum(metrics.get("redis_up")) == len(fleet)
    assert killed not in workers_of(exporter) and len(workers_of(exporter)) == workers
    assert metrics.value("cachescope_scrape_worker_restarts_total") == 1
    assert "exited" in exporter.log()


def test_a_worker_that_stops_answering_costs_its_targets_one_scrape(
    fleet: list[RedisServer], start_exporter: StartExporter
) -> None:
    exporter = start(start_exporter, fleet)
    exporter.metrics()
    frozen = workers_of(exporter)[0]
    os.kill(frozen, signal.SIGSTOP)
    started = time.monotonic()
    metrics = exporter.metrics()
    took = time.monotonic() - started
    down = [labels["instance"] for _, labels, v in metrics.samples if _ == "redis_up" and v == 0]
    assert down, "no target was behind the frozen worker"
    assert len(metrics.get("redis_up")) == len(fleet)
    # The limit: the 1 s timeout plus workers.MARGIN (2.5 s) before the worker is given up;
    # twice that, so a loaded machine cannot fail it.
    assert took < 2 * (1 + 2.5), f"/metrics took {took:.1f}s with a frozen worker"
    assert metrics.scrape_errors(down[0]) == {"timeout": 1}
    assert "did not answer in time" in exporter.log()
    after = exporter.metrics()
    assert sum(after.get("redis_up")) == len(fleet)  # a new worker took over
    assert frozen not in workers_of(exporter)
    # The new worker carries the counters on: the timeout stays counted.
    assert after.scrape_errors(down[0]) == {"timeout": 1}
    assert after.value("cachescope_scrapes_total", instance=down[0]) == 3


def test_reload_hands_new_targets_to_the_workers(
    fleet: list[RedisServer], start_exporter: StartExporter, tmp_path: Path
) -> None:
    config = tmp_path / "cachescope.yml"

    def write(servers: list[RedisServer]) -> None:
        lines = [f"  - uri: {server.uri}\n" for server in servers]
        config.write_text("targets:\n" + "".join(lines))

    write(fleet[:2])
    exporter = start_exporter("--scrape.processes", "3", "--config.file", str(config))
    assert len(exporter.metrics().get("redis_up")) == 2
    write(fleet)
    assert exporter.post("/-/reload")[0] == 200
    metrics = exporter.metrics()
    assert up_by_instance(metrics, fleet) == {s.uri.removeprefix("redis://"): 1.0 for s in fleet}


def test_a_small_fleet_is_scraped_in_the_main_process_by_default(
    fleet: list[RedisServer], start_exporter: StartExporter
) -> None:
    targets = [arg for server in fleet for arg in ("--target", server.uri)]
    exporter = start_exporter(*targets)
    metrics = exporter.metrics()
    assert sum(metrics.get("redis_up")) == len(fleet)
    assert metrics.value("cachescope_scrape_processes") == 1
    assert workers_of(exporter) == []


@pytest.mark.parametrize(
    ("setting", "targets", "expected"),
    [
        (1, 5000, 1),  # 1: no workers, scrape in the main process
        (3, 2, 3),  # an explicit count, whatever the fleet
        (0, AUTO_MIN_TARGETS - 1, 1),  # auto: small fleets stay in-process
    ],
)
def test_process_count_follows_the_setting(setting: int, targets: int, expected: int) -> None:
    assert process_count(setting, targets) == expected


def test_auto_gives_big_fleets_one_process_per_usable_cpu() -> None:
    cpus = len(os.sched_getaffinity(0))
    assert usable_cpus() <= cpus
    assert process_count(0, AUTO_MIN_TARGETS) == min(usable_cpus(), AUTO_MAX_PROCESSES)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),  # cgroup v2, a limit of 1.5 CPUs
        ({"cpu.max": "max 100000\n"}, None),  # v2, no limit
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),  # no cgroup files at all
    ],
)
def test_a_containers_cpu_quota_is_read_from_its_cgroup(
    tmp_path: Path, files: dict[str, str], expected: float | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cpu_quota(tmp_path) == expected


def test_memcached_and_keyspace_sampled_targets_beside_workers(
    fleet: list[RedisServer], start_exporter: StartExporter, tmp_path: Path
) -> None:
    # Names that hash to a worker: the memcached target is scraped there, and the
    # keyspace-sampled one would be too if its sampler did not keep it here.
    named = iter(name for name in (f"cache-{i}" for i in range(100)) if share(name, 3))
    memcached, sampled = MemcachedServer(), fleet[0]
    try:
        lines = [f"  - uri: {server.uri}\n" for server in fleet[1:]]
        lines.append(f"  - uri: {memcached.uri}\n    name: {next(named)}\n")
        lines.append(
            f"  - uri: {sampled.uri}\n    name: {next(named)}\n"
            "    keyspace:\n      interval: 1h\n      keys_per_cycle: 1000\n"
        )
        config = tmp_path / "cachescope.yml"
        config.write_text("targets:\n" + "".join(lines))
        exporter = start_exporter("--scrape.processes", "3", "--config.file", str(config))
        wait_for(
            lambda: exporter.metrics().get("redis_keyspace_sample_age_seconds"),
            timeout=60,
            what="the keyspace sampler's first cycle",
        )
        metrics = exporter.metrics()
        assert metrics.get("memcached_up") == [1.0]
        assert sum(metrics.get("redis_up")) == len(fleet)
        assert_one_block_per_family(metrics)
    finally:
        memcached.stop()


def _bookkeeping(processes: int, uris: list[str]) -> dict[str, tuple[object, ...]]:
    """Each target's counters and last outcome after two scrapes of a fleet."""
    from cachescope.config.records import Config, target_from_uri
    from cachescope.fleet import Fleet, Limits

    targets = [target_from_uri(uri) for uri in uris]
    fleet = Fleet(Config(targets=targets), Limits(scrape_processes=processes))
    try:
        fleet.scrape_all()
        fleet.scrape_all()
        return {
            name: (s.scrapes, dict(s.errors), s.last_up, s.last_error, s.last_time > 0)
            for name, s in fleet.states.items()
        }
    finally:
        fleet.close()


def test_a_target_is_counted_alike_whether_a_worker_or_this_process_scraped_it(
    start_redis: StartRedis,
) -> None:
    servers = [start_redis() for _ in range(3)]
    while all(share(f"127.0.0.1:{server.port}", 3) == 0 for server in servers):
        servers.append(start_redis())  # one at least must be a worker's
    down_port = free_port()
    while share(f"127.0.0.1:{down_port}", 3) == 0:
        down_port = free_port()
    uris = [f"redis://127.0.0.1:{server.port}" for server in servers]
    uris.append(f"redis://127.0.0.1:{down_port}")  # nobody listens: a refused connection
    in_process = _bookkeeping(1, uris)
    over_workers = _bookkeeping(3, uris)
    assert over_workers == in_process
    *up, down = in_process.values()
    scrapes, errors, last_up, last_error, scraped = down
    assert (scrapes, errors, last_up, scraped) == (2, {"connect": 2}, 0.0, True)
    assert "refused" in str(last_error)
    assert up == [(2, {}, 1.0, "", True)] * len(servers)
