"""The rules against real trouble: real servers, cachescope, and a real Prometheus.

Redis filled to maxmemory under noeviction until writes fail with OOM, a replica whose
primary is stopped, a Memcached filled past its 2 MB so it evicts (and misses), and a
stopped Memcached. Prometheus scrapes cachescope every second and evaluates the rules
rendered from the defaults with every `for` set to 0s; the firing alerts it reports must be
exactly the expected ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import redis
import yaml
from cachescope.rules import thresholds
from prometheus import Firing, Prometheus, render_rules
from pymemcache.client.base import Client as MemcacheClient
from servers import MemcachedServer, StartExporter, StartRedis, wait_for_link_up


def live_thresholds(path: Path) -> Path:
    """Defaults with no `for`, and no warm-up for a fresh Memcached."""
    alerts: dict[str, dict[str, object]] = {}
    for name, entry in thresholds.load()["alerts"].items():
        levels = [key for key in ("warning", "critical") if key in entry]
        alerts[name] = {key: {"for": "0s"} for key in levels} if levels else {"for": "0s"}
    # Fresh servers: no warm-up grace, and a few gets per second count as traffic.
    alerts["MemcachedHitRatioLow"].update(warmup="0s", min_gets=0)
    path.write_text(yaml.safe_dump({"selector": 'job="cachescope"', "alerts": alerts}))
    return path


def fill_until_oom(client: redis.Redis) -> None:
    """Write 10 kB values until Redis refuses with OOM."""
    value = b"x" * 10_000
    for index in range(10_000):
        try:
            client.set(f"fill:{index}", value)
        except redis.exceptions.OutOfMemoryError:  # "OOM command not allowed ..."
            return
    raise AssertionError("Redis never refused a write")


def test_real_trouble_fires_exactly_the_expected_alerts(
    start_redis: StartRedis,
    start_exporter: StartExporter,
    background_jobs: list[Callable[[], object]],
    tmp_path: Path,
) -> None:
    full = start_redis("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
    primary = start_redis("--repl-diskless-sync-delay", "0")
    replica = start_redis("--replicaof", "127.0.0.1", str(primary.port))
    wait_for_link_up(replica)
    evicting, stopped = MemcachedServer("-m", "2"), MemcachedServer()
    try:
        exporter = start_exporter(
            *(f"--target={s.uri}" for s in (full, primary, replica, evicting, stopped)),
            "--timeout=1s",
        )
        full_client = full.client()
        fill_until_oom(full_client)
        cache = MemcacheClient(("127.0.0.1", evicting.port), timeout=2, no_delay=True)
        counter = iter(range(10**9))
        background_jobs.append(lambda: full_client.set(f"more:{next(counter)}", b"x" * 100))
        background_jobs.append(
            lambda: [cache.set(f"k{next(counter)}", b"x" * 1000) for _ in range(200)]
        )
        # A few of the items are read once: evicting items in use is what the early-eviction
        # alert catches (never-read items leaving a full cache are no harm).
        background_jobs.append(lambda: [cache.get(f"k{next(counter) - 50}") for _ in range(5)])
        background_jobs.append(lambda: [cache.get(f"gone{next(counter)}") for _ in range(20)])
        primary.stop()
        stopped.stop()

        rule_dir = render_rules(
            live_thresholds(tmp_path / "live-thresholds.yml"), tmp_path / "rules"
        )
        prometheus = Prometheus(tmp_path, exporter.port, rule_dir)
        try:
            name = {s: f"127.0.0.1:{s.port}" for s in (full, primary, replica, evicting, stopped)}
            expected = {
                ("RedisRestarted", "info", name[full]),
                ("RedisMemoryNearLimit", "warning", name[full]),
                ("RedisMemoryNearLimit", "critical", name[full]),
                ("RedisOutOfMemoryErrors", "critical", name[full]),
                ("RedisDown", "critical", name[primary]),
                ("CachescopeScrapeErrors", "warning", name[primary]),
                ("RedisRestarted", "info", name[replica]),
                ("RedisReplicaLinkDown", "critical", name[replica]),
                ("MemcachedItemsEvictedEarly", "warning", name[evicting]),
                ("MemcachedEvictionsHigh", "warning", name[evicting]),
                ("MemcachedHitRatioLow", "warning", name[evicting]),
                ("MemcachedDown", "critical", name[stopped]),
                ("CachescopeScrapeErrors", "warning", name[stopped]),
            }
            deadline = time.monotonic() + 45
            firing: Firing = set()
            while time.monotonic() < deadline and not expected <= firing:
                time.sleep(1)
                firing = prometheus.firing()
            time.sleep(2)  # let anything else that would fire show up too
            firing = prometheus.firing()
            assert firing - expected == set(), f"unexpected alerts:\n{prometheus.log()[-2000:]}"
            assert expected - firing == set(), "expected alerts that did not fire"
        finally:
            prometheus.stop()
    finally:
        evicting.stop()
        stopped.stop()
