"""What stalls the event loop unseen: big keys freed inline, and latency instruments turned off."""

from __future__ import annotations

from cachescope.alerts.audits.model import AuditDef, AuditIssue, Settings, config_set
from cachescope.analyze.checks import human_bytes
from cachescope.analyze.figures import Figures

# A key this big (MEMORY USAGE) takes milliseconds to free when it is made of many
# allocations: RedisBigKeys' threshold (10 MiB, rules/thresholds.yml), where the practice
# says a key blocks the event loop; a test keeps the two equal.
BIG_KEY_BYTES = 10 * 2**20
LAZYFREE = ("lazyfree-lazy-eviction", "lazyfree-lazy-expire", "lazyfree-lazy-user-del")
# The defaults the practice keeps: 10 ms is also RedisCommandLatencyHigh's threshold, and
# 100 ms RedisLatencySpike's (a stall clients with 100 ms timeouts notice).
SLOWLOG_FIX_USEC = 10_000
SLOWLOG_FIX_LEN = 128
LATENCY_MONITOR_FIX_MS = 100


def _lazyfree_off(s: Settings, f: Figures) -> AuditIssue | None:
    off = [name for name in LAZYFREE if s.config.get(name) == "no"]
    if not off or not s.big_keys or s.big_keys[0] < BIG_KEY_BYTES:
        return None
    big = [size for size in s.big_keys if size >= BIG_KEY_BYTES]
    return AuditIssue(
        issue=(
            f"{', '.join(off)} off while {len(big)} of the sampled keys exceed "
            f"{human_bytes(BIG_KEY_BYTES)} (the biggest {human_bytes(big[0])}): evicting, "
            "expiring or deleting one frees it on the event loop, and every client waits"
        ),
        evidence={
            **{name: s.config.get(name) for name in LAZYFREE},
            "biggest_sampled_key_bytes": big[0],
            "sampled_keys_above_threshold": len(big),
            "big_key_threshold_bytes": BIG_KEY_BYTES,
        },
        fix=config_set(s.info, [(name, "yes") for name in off]),
        priority="medium",
    )


def _slowlog_disabled(s: Settings, f: Figures) -> AuditIssue | None:
    slower = s.config.get("slowlog-log-slower-than", "0")
    length = s.config.get("slowlog-max-len", "1")
    if not slower.lstrip("-").isdigit() or not length.isdigit():
        return None
    if int(slower) >= 0 and int(length) > 0:
        return None
    slowest = max(f.commands, key=lambda c: c.avg_seconds, default=None)
    seen = (
        ""
        if slowest is None
        else f"; the slowest command in the sample, {slowest.name}, took "
        f"{slowest.avg_seconds * 1000:.2f} ms per call on average"
    )
    pairs = [("slowlog-log-slower-than", str(SLOWLOG_FIX_USEC))] if int(slower) < 0 else []
    pairs += [("slowlog-max-len", str(SLOWLOG_FIX_LEN))] if int(length) <= 0 else []
    return AuditIssue(
        issue=(
            "the slowlog records nothing (slowlog-log-slower-than "
            f"{slower}, slowlog-max-len {length}): a slow command blocks every client and "
            f"leaves no trace, and RedisSlowlogGrowing cannot fire{seen}"
        ),
        evidence={
            "slowlog-log-slower-than": slower,
            "slowlog-max-len": length,
            "slowest_command": None if slowest is None else slowest.name,
            "slowest_command_avg_seconds": None
            if slowest is None
            else round(slowest.avg_seconds, 6),
        },
        fix=config_set(s.info, pairs),
        priority="low",
    )


def _latency_monitor_off(s: Settings, f: Figures) -> AuditIssue | None:
    if s.config.get("latency-monitor-threshold") != "0":
        return None
    return AuditIssue(
        issue=(
            "latency-monitor-threshold 0: Redis records no latency events (fork, expire "
            "cycles, AOF fsync), so LATENCY LATEST stays empty and RedisLatencySpike cannot "
            f"fire on this instance ({len(f.latency_events)} events seen)"
        ),
        evidence={
            "latency-monitor-threshold": "0",
            "latency_events": len(f.latency_events),
        },
        fix=f"CONFIG SET latency-monitor-threshold {LATENCY_MONITOR_FIX_MS}",
        priority="low",
    )


AUDITS = (
    AuditDef(
        name="lazyfree-off-with-big-keys",
        kind="redis",
        category="latency",
        rationale=(
            "Freeing a big key inline blocks the event loop for as long as it takes; lazyfree "
            "hands it to a background thread."
        ),
        needs=LAZYFREE,
        check=_lazyfree_off,
        reads=("big_keys",),
        action="free big keys in the background (lazyfree-lazy-* yes), and split the keys",
    ),
    AuditDef(
        name="slowlog-disabled",
        kind="redis",
        category="latency",
        rationale=(
            "The slowlog is the record of commands that blocked the event loop; disabled, a "
            "latency problem leaves no trace to find its cause by."
        ),
        needs=("slowlog-log-slower-than", "slowlog-max-len"),
        check=_slowlog_disabled,
        action="record commands slower than 10 ms in the slowlog (the default)",
    ),
    AuditDef(
        name="latency-monitor-off",
        kind="redis",
        category="latency",
        rationale=(
            "The latency monitor records stalls the slowlog cannot see (forks, expiry, "
            "fsync); at 0 it records none."
        ),
        needs=("latency-monitor-threshold",),
        check=_latency_monitor_off,
        action="record latency events above 100 ms (latency-monitor-threshold 100)",
    ),
)
