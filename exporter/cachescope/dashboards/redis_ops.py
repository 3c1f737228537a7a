"""Redis instance: what the server spends its time on, what fails, what stalls."""

from __future__ import annotations

from typing import Any

from cachescope.dashboards import grafana
from cachescope.dashboards.bounds import Bound
from cachescope.dashboards.common import RATE, series

I = "{{instance}}"  # noqa: E741 (a legend, read as "instance")
# The windowed percentiles of rules/recording.py, per node.
P99 = "instance_cmd:redis_command_latency_seconds:p99_rate5m"
P50 = "instance_cmd:redis_command_latency_seconds:p50_rate5m"


def commands(t: dict[str, Any]) -> list[grafana.Panel]:
    """What the server spends its time on, and what fails."""
    return [
        series(
            t,
            "Calls/s by command (top 10)",
            [
                (
                    f"topk(10, sum by (instance, cmd) (rate(redis_commands_total{{SEL}}[{RATE}])))",
                    f"{I} {{{{cmd}}}}",
                ),
            ],
            "From INFO commandstats.",
            "ops",
        ),
        series(
            t,
            "Average latency by command",
            [
                ("instance_cmd:redis_command_latency_seconds:avg_rate5m{SEL}", f"{I} {{{{cmd}}}}"),
            ],
            "Time per call over 5 minutes (commandstats usec / calls).",
            "s",
            [Bound("RedisCommandLatencyHigh")],
        ),
        series(
            t,
            "p99 latency by command (5m)",
            [(f"{P99}{{SEL}}", f"{I} {{{{cmd}}}}")],
            "99th percentile over 5 minutes, from the LATENCY HISTOGRAM buckets (Redis 7+).",
            "s",
            [Bound("RedisCommandLatencyHigh")],
        ),
        series(
            t,
            "p50 latency by command (5m)",
            [(f"{P50}{{SEL}}", f"{I} {{{{cmd}}}}")],
            "Median over 5 minutes, from the LATENCY HISTOGRAM buckets (Redis 7+).",
            "s",
        ),
        series(
            t,
            "p99 latency by command since start",
            [
                (
                    'max by (instance, cmd) (redis_latency_percentiles_usec{SEL, quantile="99"})'
                    " / 1e6",
                    f"{I} {{{{cmd}}}}",
                ),
            ],
            "99th percentile since the server started or CONFIG RESETSTAT, from INFO"
            " latencystats (Redis 7+): slow to move, and not comparable across nodes.",
            "s",
        ),
        series(
            t,
            "Errors/s by type",
            [
                (
                    f"sum by (instance, err) (rate(redis_errors_total{{SEL}}[{RATE}]))",
                    f"{I} {{{{err}}}}",
                ),
            ],
            "Error replies by prefix (INFO errorstats): OOM, BUSY, NOAUTH, WRONGTYPE, ERR ...",
            "short",
            runbooks=["RedisOutOfMemoryErrors", "RedisBusyScript"],
        ),
        series(
            t,
            "Failed and rejected calls/s",
            [
                (
                    f"sum by (instance) (rate(redis_commands_failed_calls_total{{SEL}}[{RATE}]))",
                    f"{I} failed",
                ),
                (
                    f"sum by (instance) (rate(redis_commands_rejected_calls_total{{SEL}}[{RATE}]))",
                    f"{I} rejected",
                ),
            ],
            "Calls that failed while running, and calls refused before (bad arity, OOM, ACL).",
            "short",
        ),
    ]


def slow(t: dict[str, Any]) -> list[grafana.Panel]:
    """The slowlog and the latency monitor."""
    return [
        series(
            t,
            "Slowlog entries in 10 minutes",
            [
                ("increase(redis_slowlog_last_id{SEL}[10m])", I),
            ],
            "New slow commands (slowlog-log-slower-than); the window is the alert's.",
            "short",
            [Bound("RedisSlowlogGrowing")],
        ),
        series(
            t,
            "Latest slow command",
            [
                ("redis_last_slow_execution_duration_seconds{SEL}", I),
                ("redis_slowlog_length{SEL}", f"{I} slowlog length"),
            ],
            "Duration of the newest slowlog entry.",
            "s",
        ),
        series(
            t,
            "Latency events",
            [
                ("redis_latency_spike_duration_seconds{SEL}", f"{I} {{{{event_name}}}}"),
            ],
            "LATENCY LATEST: the latest spike per event (needs latency-monitor-threshold).",
            "s",
            [Bound("RedisLatencySpike")],
        ),
    ]
