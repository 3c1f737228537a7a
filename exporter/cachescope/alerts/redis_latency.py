"""Redis alerts on latency: slow commands, the slowlog, latency spikes, BUSY scripts."""

from __future__ import annotations

from cachescope.alerts.model import AlertDef
from cachescope.analyze.checks import Params, event, seconds
from cachescope.analyze.figures import Figures
from cachescope.rules.model import first_events

GROUP = "cachescope.redis.latency"
_UPTIME = "redis_uptime_in_seconds{@{selector}}"
# The windowed p99 where the server has LATENCY HISTOGRAM (Redis 7+), else the average:
# `unless` keeps the average of a command only where it has no p99, so never both.
_P99 = "instance_cmd:redis_command_latency_seconds:p99_rate5m{@{selector}}"
_AVG = "instance_cmd:redis_command_latency_seconds:avg_rate5m{@{selector}}"


def _latency(f: Figures, p: Params) -> str | None:
    slow = [
        c
        for c in f.commands
        if c.calls_per_second > p["min_calls"] and c.judged_seconds > p["threshold"]
    ]
    if not slow:
        return None
    worst = max(slow, key=lambda c: c.judged_seconds)
    how = "on average" if worst.p99_seconds is None else "at the 99th percentile"
    return (
        f"{worst.name} takes {worst.judged_seconds * 1000:.1f} ms per call {how} "
        f"(threshold {p['threshold'] * 1000:g} ms)"
    )


def _slowlog(f: Figures, p: Params) -> str | None:
    if f.slowlog_new is None or f.interval <= 0:
        return None
    per_10m = f.slowlog_new * 600 / f.interval
    if per_10m <= p["threshold"]:
        return None
    return f"{f.slowlog_new:g} slow commands logged in {f.interval:.0f}s (~{per_10m:.0f}/10m)"


def _spike(f: Figures, p: Params) -> str | None:
    for name, duration, age in f.latency_events:
        if duration > p["threshold"] and age < seconds(p, "within"):
            return f"latency event {name} of {duration * 1000:.0f} ms, {age:.0f}s ago"
    return None


def _busy(f: Figures, p: Params) -> str | None:
    return event(f, "BUSY", "commands refused with BUSY (a script ran too long)")


ALERTS = (
    AlertDef(
        name="RedisCommandLatencyHigh",
        expr=(
            f"(\n  {_P99} > @{{threshold}}\n  or\n"
            f"  (\n    {_AVG} > @{{threshold}}\n"
            f"    unless on (job, instance, cmd) {_P99}\n  )\n)\n"
            "and on (job, instance, cmd)"
            " rate(redis_commands_total{@{selector}}[5m]) > @{min_calls}"
        ),
        summary="A Redis command is slow.",
        description=(
            "{{ $labels.cmd }} on Redis {{ $labels.instance }} takes"
            " {{ $value | humanizeDuration }} per call at the 99th percentile over 5 minutes"
            " (on average where Redis has no LATENCY HISTOGRAM; threshold @{threshold}s)."
        ),
        category="latency",
        action=(
            "page through big collections (HSCAN, SSCAN, ZSCAN, bounded ranges), split big keys, "
            "use UNLINK instead of DEL, never KEYS"
        ),
        check=_latency,
    ),
    AlertDef(
        name="RedisSlowlogGrowing",
        expr="increase(redis_slowlog_last_id{@{selector}}[10m]) > @{threshold}",
        summary="Redis logs slow commands.",
        description=(
            "Redis {{ $labels.instance }} logged {{ $value | humanize }} slow commands in the"
            " last 10 minutes (threshold @{threshold})."
        ),
        category="latency",
        action=(
            "find the command and key in SLOWLOG GET 20 and page through big collections "
            "instead of reading them whole"
        ),
        check=_slowlog,
    ),
    AlertDef(
        name="RedisLatencySpike",
        expr=(
            "redis_latency_spike_duration_seconds{@{selector}} > @{threshold}\n"
            "and on (job, instance, event_name)"
            " time() - redis_latency_spike_last{@{selector}} < @{within|seconds}"
        ),
        summary="Redis' latency monitor recorded a spike.",
        description=(
            "Redis {{ $labels.instance }} stalled for {{ $value | humanizeDuration }}"
            " ({{ $labels.event_name }}) in the last @{within}."
        ),
        category="latency",
        action=(
            "see LATENCY DOCTOR: fork -> disable transparent huge pages or save on a replica; "
            "aof -> appendfsync everysec; expire-cycle -> add TTL jitter"
        ),
        check=_spike,
    ),
    AlertDef(
        name="RedisBusyScript",
        expr=first_events('redis_errors_total{@{selector}, err="BUSY"}', _UPTIME),
        summary="A Redis script or function blocked the server.",
        description=(
            "Redis {{ $labels.instance }} answered {{ $value | humanize }} commands with BUSY"
            " in the last 5 minutes: a script ran past busy-reply-threshold."
        ),
        category="latency",
        action=(
            "SCRIPT KILL a stuck read-only script, then bound the script's loops and batch its work"
        ),
        check=_busy,
    ),
)
