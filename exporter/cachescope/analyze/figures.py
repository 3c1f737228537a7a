"""The figures of a report: rates from counter deltas between two samples, gauges from the last.

Everything the findings look at is here, so `findings.evaluate` is a pure function
of a Figures and the thresholds. A figure the server does not give stays None.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from cachescope.analyze.latency import buckets_by_cmd, growth, increase, quantile
from cachescope.analyze.sampling import Reading, Samples
from cachescope.analyze.search import SearchIndex, search_indexes


@dataclass(frozen=True)
class Command:
    """A command's calls/s and server time per call during the interval.

    `p99_seconds` is the 99th percentile of the interval's calls from LATENCY HISTOGRAM's
    buckets (Redis 7+), as the alert's recording rule computes it; None without them.
    """

    name: str
    calls_per_second: float
    avg_seconds: float
    p99_seconds: float | None = None

    @property
    def judged_seconds(self) -> float:
        """What RedisCommandLatencyHigh judges: the p99 where there is one, else the average."""
        return self.avg_seconds if self.p99_seconds is None else self.p99_seconds


@dataclass(frozen=True)
class Replica:
    """A replica attached to a primary, as the primary sees it."""

    address: str
    state: str
    lag_seconds: float | None


@dataclass(frozen=True)
class SentinelMaster:
    name: str
    ok: bool
    odown: bool
    ok_sentinels: float | None
    quorum: float | None
    ckquorum_ok: bool
    address: str = ""  # host:port of the primary, as the sentinel sees it


@dataclass
class Figures:
    """One target's figures; rates are per second over the sampling interval."""

    kind: str  # "redis" or "memcached"
    interval: float = 0.0
    duration: float = 0.0  # the second sample's round trip
    version: str | None = None
    mode: str | None = None  # standalone, cluster, sentinel
    uptime: float | None = None
    loading: bool = False
    # efficiency
    hits_per_second: float | None = None
    misses_per_second: float | None = None
    misses_average: float | None = None  # misses/s since the server started
    evictions_per_second: float | None = None
    expiries_per_second: float | None = None
    ops_per_second: float | None = None
    # memory
    used: float | None = None
    peak: float | None = None
    rss: float | None = None
    maxmemory: float | None = None
    policy: str | None = None
    system_memory: float | None = None  # the host's, as Redis reports it
    # the shortest evicted_time of the slab classes that evicted during the interval
    evicted_early: float | None = None
    fragmentation: float | None = None
    # clients
    clients: float | None = None
    blocked: float | None = None
    maxclients: float | None = None
    connections_per_second: float | None = None
    # keys
    keys: float | None = None
    keys_expiring: float | None = None
    # counters of bad events: (during the interval, since the server started)
    events: dict[str, tuple[float, float]] = field(default_factory=dict)
    # latency
    commands: list[Command] = field(default_factory=list)
    slowlog_new: float | None = None
    latency_events: list[tuple[str, float, float]] = field(default_factory=list)
    # replication
    role: str | None = None
    link_up: bool | None = None  # None on a primary
    last_io_seconds: float | None = None
    replicas: list[Replica] = field(default_factory=list)
    full_syncs: float | None = None  # total since start, and its age: see _full_syncs
    # Bytes/s through the replication stream during the interval (master_repl_offset's
    # delta: a replica's offset follows its primary's stream too).
    repl_bytes_per_second: float | None = None
    # persistence
    rdb_ok: bool | None = None
    rdb_saves: float | None = None
    last_save_age: float | None = None
    changes_since_save: float | None = None
    aof_enabled: bool | None = None
    aof_write_ok: bool | None = None
    aof_rewrite_ok: bool | None = None
    # cluster and sentinel
    cluster: dict[str, float] = field(default_factory=dict)
    sentinel_masters: list[SentinelMaster] = field(default_factory=list)
    tilt: bool = False
    search_indexes: list[SearchIndex] = field(default_factory=list)  # analyze/search.py

    @property
    def lookups_per_second(self) -> float | None:
        if self.hits_per_second is None or self.misses_per_second is None:
            return None
        return self.hits_per_second + self.misses_per_second

    @property
    def hit_ratio(self) -> float | None:
        lookups = self.lookups_per_second
        if not lookups or self.hits_per_second is None:
            return None
        return self.hits_per_second / lookups

    @property
    def memory_ratio(self) -> float | None:
        if self.used is None or not self.maxmemory:
            return None
        return self.used / self.maxmemory

    @property
    def no_ttl_ratio(self) -> float | None:
        if not self.keys or self.keys_expiring is None:
            return None
        return (self.keys - self.keys_expiring) / self.keys


def _rate(samples: Samples, name: str, **labels: str) -> float | None:
    after = samples.second.total(name, **labels)
    before = samples.first.total(name, **labels)
    if after is None or before is None or samples.seconds <= 0:
        return None
    return max(after - before, 0.0) / samples.seconds  # a restart in between resets counters


def _event(samples: Samples, name: str, **labels: str) -> tuple[float, float]:
    after = samples.second.total(name, **labels) or 0.0
    before = samples.first.total(name, **labels) or 0.0
    return max(after - before, 0.0), after


def _flag(reading: Reading, name: str) -> bool | None:
    value = reading.value(name)
    return None if value is None else value == 1


def redis_figures(samples: Samples, now: float | None = None) -> Figures:
    """The figures of a Redis server (or sentinel) from two samples."""
    last = samples.second
    now = time.time() if now is None else now
    uptime = last.value("redis_uptime_in_seconds")
    figures = Figures(
        "redis",
        interval=samples.seconds,
        duration=samples.duration,
        version=last.label("redis_instance_info", "redis_version"),
        mode=last.label("redis_instance_info", "redis_mode"),
        uptime=uptime,
        loading=last.value("redis_loading_dump_file") == 1,
        hits_per_second=_rate(samples, "redis_keyspace_hits_total"),
        misses_per_second=_rate(samples, "redis_keyspace_misses_total"),
        evictions_per_second=_rate(samples, "redis_evicted_keys_total"),
        expiries_per_second=_rate(samples, "redis_expired_keys_total"),
        ops_per_second=_rate(samples, "redis_commands_processed_total"),
        used=last.value("redis_memory_used_bytes"),
        peak=last.value("redis_memory_used_peak_bytes"),
        rss=last.value("redis_memory_used_rss_bytes"),
        maxmemory=last.value("redis_memory_max_bytes"),
        policy=last.label("redis_instance_info", "maxmemory_policy"),
        system_memory=last.value("redis_total_system_memory_bytes"),
        fragmentation=last.value("redis_mem_fragmentation_ratio"),
        clients=last.value("redis_connected_clients"),
        blocked=last.value("redis_blocked_clients"),
        maxclients=last.value("redis_config_maxclients"),
        connections_per_second=_rate(samples, "redis_connections_received_total"),
        keys=last.total("redis_db_keys"),
        keys_expiring=last.total("redis_db_keys_expiring"),
        role=last.label("redis_instance_info", "role"),
        rdb_ok=_flag(last, "redis_rdb_last_bgsave_status"),
        rdb_saves=last.value("redis_rdb_saves_total"),
        changes_since_save=last.value("redis_rdb_changes_since_last_save"),
        aof_enabled=_flag(last, "redis_aof_enabled"),
        aof_write_ok=_flag(last, "redis_aof_last_write_status"),
        aof_rewrite_ok=_flag(last, "redis_aof_last_bgrewrite_status"),
        tilt=last.value("redis_sentinel_tilt") == 1,
    )
    misses = last.value("redis_keyspace_misses_total")
    if misses is not None and uptime:
        figures.misses_average = misses / uptime
    saved = last.value("redis_rdb_last_save_timestamp_seconds")
    if saved:
        figures.last_save_age = max(now - saved, 0.0)
    for err in ("OOM", "BUSY", "MOVED"):
        figures.events[err] = _event(samples, "redis_errors_total", err=err)
    figures.events["rejected"] = _event(samples, "redis_rejected_connections_total")
    _add_latency(figures, samples, now)
    _add_replication(figures, samples)
    _add_cluster_and_sentinel(figures, last)
    figures.search_indexes = search_indexes(samples)
    return figures


def _add_latency(figures: Figures, samples: Samples, now: float) -> None:
    first, last = samples.first, samples.second
    calls_before = _by_cmd(first, "redis_commands_total")
    time_before = _by_cmd(first, "redis_commands_duration_seconds_total")
    time_after = _by_cmd(last, "redis_commands_duration_seconds_total")
    buckets_before, buckets_after = buckets_by_cmd(first), buckets_by_cmd(last)
    for labels, calls in last.series("redis_commands_total"):
        cmd = labels.get("cmd", "")
        delta = increase(calls_before.get(cmd, 0.0), calls)
        seconds = increase(time_before.get(cmd, 0.0), time_after.get(cmd, 0.0))
        if delta > 0 and samples.seconds > 0:
            usec = quantile(0.99, growth(buckets_before.get(cmd), buckets_after.get(cmd)))
            p99 = None if usec is None else usec / 1e6
            figures.commands.append(Command(cmd, delta / samples.seconds, seconds / delta, p99))
    new = _rate(samples, "redis_slowlog_last_id")
    figures.slowlog_new = None if new is None else new * samples.seconds
    for labels, duration in last.series("redis_latency_spike_duration_seconds"):
        event = labels.get("event_name", "")
        when = last.value("redis_latency_spike_last", event_name=event) or 0.0
        figures.latency_events.append((event, duration, max(now - when, 0.0)))


def _by_cmd(reading: Reading, name: str) -> dict[str, float]:
    return {labels.get("cmd", ""): value for labels, value in reading.series(name)}


def _add_replication(figures: Figures, samples: Samples) -> None:
    last = samples.second
    link = last.value("redis_master_link_up")
    figures.link_up = None if link is None else link == 1
    figures.repl_bytes_per_second = _rate(samples, "redis_master_repl_offset")
    figures.last_io_seconds = last.value("redis_master_last_io_seconds_ago")
    lags = {
        (labels.get("slave_ip"), labels.get("slave_port")): value
        for labels, value in last.series("redis_connected_slave_lag_seconds")
    }
    for labels, _ in last.series("redis_connected_slave_offset_bytes"):
        ip, port = labels.get("slave_ip", ""), labels.get("slave_port", "")
        replica = Replica(f"{ip}:{port}", labels.get("slave_state", ""), lags.get((ip, port)))
        figures.replicas.append(replica)
    during, total = _event(samples, "redis_replica_resyncs_full")
    # The alert counts full resyncs in an hour: since start is that when up for under an
    # hour; otherwise only the interval is known.
    young = figures.uptime is not None and figures.uptime <= 3600
    figures.full_syncs = total if young else during


def _add_cluster_and_sentinel(figures: Figures, last: Reading) -> None:
    for key in ("state", "slots_assigned", "slots_fail", "slots_pfail"):
        value = last.value(f"redis_cluster_{key}")
        if value is not None:
            figures.cluster[key] = value
    if figures.cluster:
        disconnected = last.total("redis_cluster_peers", link_state="disconnected")
        figures.cluster["disconnected"] = disconnected or 0.0
        failed = last.total("redis_cluster_peers_flagged", flag="fail")
        figures.cluster["failed_peers"] = failed or 0.0
    # Each master set's series by name, read once: a lookup per set and series would be
    # quadratic, minutes for a sentinel watching thousands of sets.
    by_set = {
        metric: _by_master(last, f"redis_sentinel_master_{metric}")
        for metric in ("odown", "ok_sentinels", "setting_ckquorum", "ckquorum_status")
    }
    for labels, status in last.series("redis_sentinel_master_status"):
        name = labels.get("master_name", "")
        figures.sentinel_masters.append(
            SentinelMaster(
                name,
                ok=status == 1,
                odown=by_set["odown"].get(name) == 1,
                ok_sentinels=by_set["ok_sentinels"].get(name),
                quorum=by_set["setting_ckquorum"].get(name),
                ckquorum_ok=by_set["ckquorum_status"].get(name) != 0,
                address=labels.get("master_address", ""),
            )
        )


def _by_master(reading: Reading, name: str) -> dict[str, float]:
    """The first sample of `name` for each master_name, as Reading.value finds it."""
    found: dict[str, float] = {}
    for labels, value in reading.series(name):
        if "master_name" in labels:
            found.setdefault(labels["master_name"], value)
    return found


_GET = "memcached_commands_total"


def memcached_figures(samples: Samples) -> Figures:
    """The figures of a Memcached server from two samples."""
    last = samples.second
    figures = Figures(
        "memcached",
        interval=samples.seconds,
        duration=samples.duration,
        version=last.label("memcached_version", "version"),
        uptime=last.value("memcached_uptime_seconds"),
        hits_per_second=_rate(samples, _GET, command="get", status="hit"),
        misses_per_second=_rate(samples, _GET, command="get", status="miss"),
        evictions_per_second=_rate(samples, "memcached_items_evicted_total"),
        expiries_per_second=_rate(samples, "memcached_items_reclaimed_total"),
        ops_per_second=_rate(samples, _GET),
        used=last.value("memcached_current_bytes"),
        maxmemory=last.value("memcached_limit_bytes"),
        clients=last.value("memcached_current_connections"),
        maxclients=last.value("memcached_max_connections"),
        connections_per_second=_rate(samples, "memcached_connections_total"),
        keys=last.value("memcached_current_items"),
    )
    figures.events["listener_disabled"] = _event(
        samples, "memcached_connections_listener_disabled_total"
    )
    figures.events["rejected"] = _event(samples, "memcached_connections_rejected_total")
    figures.events["slab_outofmemory"] = _event(samples, "memcached_slab_items_outofmemory_total")
    figures.evicted_early = _evicted_early(samples)
    return figures


def _evicted_early(samples: Samples) -> float | None:
    """The shortest evicted_time among slab classes that evicted fetched items meanwhile."""
    times = []
    for labels, value in samples.second.series("memcached_slab_items_evicted_time_seconds"):
        slab = labels.get("slab", "")
        evicted = _rate(samples, "memcached_slab_items_evicted_total", slab=slab) or 0.0
        unfetched = _rate(samples, "memcached_slab_items_evicted_unfetched_total", slab=slab)
        # Items set once and never read (a long tail) leaving an LRU cache is the cache at work.
        if evicted - (unfetched or 0.0) > 0:
            times.append(value)
    return min(times, default=None)
