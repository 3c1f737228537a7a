"""The background keyspace sampler of one Redis target, off the scrape path.

A cycle walks part of the keyspace with SCAN (never KEYS, never DEBUG), under
a budget: a number of keys, a pace in commands per second, and a time cap.
Every command it sends is O(1) or bounded by a small SAMPLES count, so even a
huge database never sees a slow command from it. The cursor carries over from
cycle to cycle, so successive cycles cover the whole keyspace. Scrapes read the
last cycle's results, with their age.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

from cachescope.config.records import TargetConfig
from cachescope.config.targets import Endpoint
from cachescope.errors import ScrapeError
from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import COUNTER, GAUGE
from cachescope.keyspace import streams
from cachescope.keyspace.sample import Findings, KeyspaceMetric
from cachescope.keyspace.streams import LENGTH, Run
from cachescope.redis.client import RedisConnection, ReplyError
from cachescope.redis.parse import as_text, parse_info, parse_kv

log = logging.getLogger(__name__)


class Budget:
    """Keys and commands left in a cycle, and the pace: it sleeps to keep commands/s."""

    def __init__(self, keys: int, per_second: int, deadline: float, stop: threading.Event) -> None:
        self.keys, self.per_second, self.deadline, self.stop = keys, per_second, deadline, stop
        self.started, self.sent = time.monotonic(), 0

    @property
    def over(self) -> bool:
        return self.keys <= 0 or time.monotonic() >= self.deadline or self.stop.is_set()

    def spend(self, commands: int) -> None:
        self.sent += commands
        due = self.started + self.sent / self.per_second
        pause = min(due, self.deadline) - time.monotonic()
        if pause > 0:
            self.stop.wait(pause)


class Sampler:
    def __init__(self, target: TargetConfig) -> None:
        assert target.keyspace is not None
        self.target, self.config = target, target.keyspace
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, name=f"keyspace-{target.name}", daemon=True
        )
        self._samples: list[KeyspaceMetric] = []
        self._cursors: dict[int, int] = {}
        self.finished = self.duration = 0.0
        self.commands = self.errors = self.dropped = 0
        self.hot_keys_supported = False
        self.source = ""

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self._cycle()
            except ScrapeError as exc:
                self.errors += 1
                log.warning(
                    "target=%s keyspace sampling failed: %s (%s)",
                    self.target.name,
                    exc.message,
                    exc.hint,
                )
            except Exception:  # a bug must not end sampling for good
                self.errors += 1
                log.exception("target=%s keyspace sampling failed", self.target.name)
            self._stop.wait(max(self.config.interval - (time.monotonic() - started), 1.0))

    def _cycle(self) -> None:
        started = time.monotonic()
        budget = Budget(
            self.config.keys_per_cycle,
            self.config.commands_per_second,
            started + self.config.time_cap,
            self._stop,
        )
        connection = self._connect(budget.deadline)
        try:
            findings = self._walk(connection, budget)
        finally:
            connection.close()
        self.commands += budget.sent
        with self._lock:
            self._samples = findings
            self.finished, self.duration = time.time(), time.monotonic() - started

    def _connect(self, deadline: float) -> RedisConnection:
        """The primary, or an online replica of it when the config prefers one."""
        primary = RedisConnection(self.target)
        self.source = "primary"
        if not self.config.prefer_replica:
            return primary
        info = parse_info(_bytes(primary.execute([("INFO", "replication")], deadline)[0]))
        for key, value in info.items():
            replica = parse_kv(value)
            if key.startswith("slave") and replica.get("state") == "online":
                endpoint = dataclasses.replace(
                    self.target.endpoint,
                    host=replica.get("ip", ""),
                    port=int(replica.get("port", "0")),
                )
                primary.close()
                self.source = "replica"
                return RedisConnection(_with_endpoint(self.target, endpoint))
        return primary

    def _walk(self, connection: RedisConnection, budget: Budget) -> list[KeyspaceMetric]:
        def run(commands: list[tuple[str | int | bytes, ...]]) -> list[object]:
            replies = connection.execute(commands, budget.deadline)
            budget.spend(len(commands))
            return replies

        keyspace, memory = run([("INFO", "keyspace"), ("INFO", "memory")])
        sizes = {
            int(k[2:]): int(parse_kv(v).get("keys", "0"))
            for k, v in parse_info(_bytes(keyspace)).items()
            if k[2:].isdecimal()
        }
        self.hot_keys_supported = "lfu" in parse_info(_bytes(memory)).get("maxmemory_policy", "")
        findings, extra = Findings(self.config), []
        total = sum(sizes.values()) or 1
        wanted = set(sizes) | {entry.db for entry in self.config.check_keys + self.config.streams}
        for db in sorted(wanted):
            run([("SELECT", db)])
            findings.db(db).size = sizes.get(db, 0)
            share = max(self.config.keys_per_cycle * sizes.get(db, 0) // total, 1)
            self._scan(run, db, share, findings, budget)
            extra += streams.check_keys(run, db, self.config, findings.label)
            extra += streams.stream_metrics(run, db, self.config, findings.label)
        return findings.samples(self.hot_keys_supported) + extra

    def _scan(self, run: Run, db: int, share: int, findings: Findings, budget: Budget) -> None:
        while share > 0 and not budget.over:
            reply = run([("SCAN", self._cursors.get(db, 0), "COUNT", self.config.scan_count)])[0]
            if not isinstance(reply, list) or len(reply) != 2:
                raise ScrapeError("command", f"SCAN refused: {reply}")
            cursor, found = int(reply[0]), list(reply[1])
            self._cursors[db] = cursor
            keys = found[: min(share, budget.keys)]
            share -= len(keys)
            budget.keys -= len(keys)
            if keys:
                self._inspect(run, db, keys, findings)
            if cursor == 0:
                break  # a full pass over this database

    def _inspect(self, run: Run, db: int, keys: list[bytes], findings: Findings) -> None:
        lfu = self.hot_keys_supported
        per_key = 4 if lfu else 3
        commands: list[tuple[str | int | bytes, ...]] = []
        for key in keys:
            commands += [
                ("TYPE", key),
                ("PTTL", key),
                ("MEMORY", "USAGE", key, "SAMPLES", self.config.memory_samples),
            ]
            if lfu:
                commands.append(("OBJECT", "FREQ", key))
        replies = run(commands)
        kinds = [as_text(replies[i * per_key]) for i in range(len(keys))]
        lengths = run(
            [(LENGTH[kind], key) for key, kind in zip(keys, kinds, strict=True) if kind in LENGTH]
        )
        lengths_iter = iter(lengths)
        for i, key in enumerate(keys):
            ttl, memory = replies[i * per_key + 1], replies[i * per_key + 2]
            frequency = replies[i * per_key + 3] if lfu else None
            elements = next(lengths_iter) if kinds[i] in LENGTH else None
            if kinds[i] == "none":
                continue  # expired or deleted since SCAN returned it
            findings.add(
                db,
                as_text(key),
                kinds[i],
                ttl if isinstance(ttl, int) else -1,
                _number(memory),
                _number(elements),
                _number(frequency),
            )

    def add_metrics(self, metrics: MetricSet) -> None:
        """The last cycle's results, and the sampler's own health, into a scrape."""
        with self._lock:
            samples, finished = self._samples, self.finished
        limit = self.config.max_series
        if len(samples) > limit:
            self.dropped += len(samples) - limit
            samples = samples[:limit]
        for name, type_, help_, value, labels in samples:
            metrics.add(name, type_, help_, value, labels)
        if finished:
            metrics.add(
                "redis_keyspace_sample_age_seconds",
                GAUGE,
                "Seconds since the last sampling cycle ended.",
                time.time() - finished,
            )
            metrics.add(
                "redis_keyspace_sample_duration_seconds",
                GAUGE,
                "Duration of the last sampling cycle.",
                self.duration,
            )
        metrics.add(
            "redis_keyspace_hot_keys_supported",
            GAUGE,
            "1 if the eviction policy is LFU, so OBJECT FREQ can rank hot keys.",
            1.0 if self.hot_keys_supported else 0.0,
        )
        metrics.add(
            "redis_keyspace_sample_commands_total",
            COUNTER,
            "Commands the sampler has sent.",
            self.commands,
        )
        metrics.add(
            "redis_keyspace_sample_errors_total",
            COUNTER,
            "Sampling cycles that failed.",
            self.errors,
        )
        metrics.add(
            "redis_keyspace_series_dropped_total",
            COUNTER,
            "Sampler series left out by the per-target series cap.",
            self.dropped,
        )
        if self.source:
            metrics.add(
                "redis_keyspace_sample_source_info",
                GAUGE,
                "Where the sampler reads keys: the primary or a replica.",
                1,
                (("source", self.source),),
            )


def _with_endpoint(target: TargetConfig, endpoint: Endpoint) -> TargetConfig:
    return dataclasses.replace(target, endpoint=endpoint, name=endpoint.address())


def _bytes(reply: object) -> bytes:
    if isinstance(reply, ReplyError) or not isinstance(reply, bytes):
        raise ScrapeError("command", f"sampler command refused: {reply}")
    return reply


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int) else None
