"""The background keyspace sampler of one Redis target, off the scrape path.

A cycle walks part of the keyspace with SCAN (never KEYS, never DEBUG), under
a budget: a number of keys, a pace in commands per second, and a time cap.
Every command it sends is O(1) or bounded by a small SAMPLES count, so even a
huge database never sees a slow command from it. The cursor carries over from
cycle to cycle, so successive cycles cover the whole keyspace: a pass. What a
pass finds (the biggest and hottest keys, the groups) adds up over its cycles,
and scrapes report the last completed pass, so a big key seen once stays on
/metrics until a pass no longer finds it; until the first pass completes, they
report the running one, its groups scaled to the database's size.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from typing import NamedTuple

from cachescope.config.records import TargetConfig
from cachescope.config.targets import Endpoint
from cachescope.errors import ScrapeError
from cachescope.keyspace import streams
from cachescope.keyspace.sample import Findings, KeyspaceMetric
from cachescope.keyspace.streams import LENGTH, Run
from cachescope.logs import fields
from cachescope.redis.client import RedisConnection, ReplyError
from cachescope.redis.parse import as_text, parse_info, parse_kv

log = logging.getLogger(__name__)


class PassProgress(NamedTuple):
    """The running pass's share of the keyspace, passes completed, a whole pass's duration."""

    ratio: float
    passes: int
    estimated: float


class Reported(NamedTuple):
    """What scrapes report: the series of the last whole pass (else the running one)."""

    samples: list[KeyspaceMetric]
    finished: float  # when the last cycle ended (time.time()); 0 before the first


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
        self._pending: dict[int, list[bytes]] = {}  # scanned, not yet looked at
        self._running = Findings(self.config)  # the pass under way
        self._completed: Findings | None = None  # the last whole pass
        self._wrapped: set[int] = set()  # databases the running pass has covered
        self._pass_started = time.monotonic()
        self._total_keys = 0  # in every database, at the last look
        self.finished = self.duration = self.pass_duration = 0.0
        self.commands = self.errors = self.dropped = self.passes = 0
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
                    "keyspace sampling failed",
                    extra=fields(
                        target=self.target.name, error=exc.kind, detail=exc.message, hint=exc.hint
                    ),
                )
            except Exception:  # a bug must not end sampling for good
                self.errors += 1
                log.exception("keyspace sampling failed", extra=fields(target=self.target.name))
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
            extra, sizes = self._walk(connection, budget)
        finally:
            connection.close()
        self.commands += budget.sent
        if self._wrapped >= set(sizes):  # every database scanned through: a whole pass
            self._completed, self._running = self._running, Findings(self.config)
            self._wrapped = set()
            now = time.monotonic()
            self.pass_duration, self._pass_started = now - self._pass_started, now
            self.passes += 1
        reported = self._completed or self._running
        with self._lock:
            self._samples = reported.samples(self.hot_keys_supported) + extra
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

    def _walk(
        self, connection: RedisConnection, budget: Budget
    ) -> tuple[list[KeyspaceMetric], dict[int, int]]:
        """One cycle: scan on into the running pass; the per-cycle series, and the db sizes."""

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
        findings, extra = self._running, []
        self._total_keys = sum(sizes.values())
        # The budget goes to the databases this pass has not covered yet.
        left = {db: size for db, size in sizes.items() if db not in self._wrapped}
        total = sum(left.values()) or 1
        wanted = set(sizes) | {entry.db for entry in self.config.check_keys + self.config.streams}
        for db in sorted(wanted):
            run([("SELECT", db)])
            findings.db(db).size = sizes.get(db, 0)
            if db in left:
                share = max(self.config.keys_per_cycle * left[db] // total, 1)
                self._scan(run, db, share, findings, budget)
            extra += streams.check_keys(run, db, self.config, findings.label)
            extra += streams.stream_metrics(run, db, self.config, findings.label)
        return extra, sizes

    def _scan(self, run: Run, db: int, share: int, findings: Findings, budget: Budget) -> None:
        # Keys a SCAN returned beyond the budget wait for the next cycle rather than be
        # skipped: the cursor has moved past them, and a pass must see every key.
        pending = self._pending.pop(db, [])
        while share > 0 and not budget.over:
            cursor = self._cursors.get(db, 0)
            if not pending:
                reply = run([("SCAN", cursor, "COUNT", self.config.scan_count)])[0]
                if not isinstance(reply, list) or len(reply) != 2:
                    raise ScrapeError("command", f"SCAN refused: {reply}")
                cursor, pending = int(reply[0]), list(reply[1])
                self._cursors[db] = cursor
            take = min(share, budget.keys)
            keys, pending = pending[:take], pending[take:]
            share -= len(keys)
            budget.keys -= len(keys)
            if keys:
                self._inspect(run, db, keys, findings)
            if cursor == 0 and not pending:
                self._wrapped.add(db)  # this pass has seen the whole database
                break
        if pending:
            self._pending[db] = pending

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
                key_name(key),
                kinds[i],
                ttl if isinstance(ttl, int) else -1,
                _number(memory),
                _number(elements),
                _number(frequency),
            )

    def progress(self) -> PassProgress:
        """How far the running pass is, and how long a whole pass takes at this budget."""
        seen = sum(db.sampled for db in self._running.dbs.values())
        total = self._total_keys
        cycles = -(-total // self.config.keys_per_cycle) if total else 1
        ratio = min(seen / total, 1.0) if total else 0.0
        return PassProgress(ratio, self.passes, cycles * self.config.interval)

    def findings(self) -> Reported:
        """The reported pass's series, and when the last cycle ended."""
        with self._lock:
            return Reported(self._samples, self.finished)


def key_name(key: bytes) -> str:
    """A key's name as text, one per key: bytes that are not UTF-8 shown as \\xNN escapes.

    Replacing them, as other replies are, would give two binary keys one name, and one
    of two big keys would hide the other.
    """
    return key.decode("utf-8", "backslashreplace")


def _with_endpoint(target: TargetConfig, endpoint: Endpoint) -> TargetConfig:
    return dataclasses.replace(target, endpoint=endpoint, name=endpoint.address())


def _bytes(reply: object) -> bytes:
    if isinstance(reply, ReplyError) or not isinstance(reply, bytes):
        raise ScrapeError("command", f"sampler command refused: {reply}")
    return reply


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int) else None
