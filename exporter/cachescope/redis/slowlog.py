"""What Redis says of its slow calls: the slow log, the latency monitor, Valkey's command log.

redis_slowlog_length 3
redis_slowlog_last_id 41
redis_latency_spike_duration_seconds{event_name="command"} 0.25
redis_commandlog_large_reply_length 2
"""

from __future__ import annotations

from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import GAUGE
from cachescope.redis.parse import SlowlogEntry, parse_latency_latest, parse_slowlog_entry

# Valkey 8.1's command log: slow commands (what SLOWLOG shows) and large requests
# and replies; named as redis_exporter names them.
COMMANDLOG = {
    ("COMMANDLOG", "LEN", kind): f"redis_commandlog_{kind.replace('-', '_')}_length"
    for kind in ("slow", "large-request", "large-reply")
}


def add_slowlog(metrics: MetricSet, length: object, newest: object) -> None:
    """SLOWLOG LEN's reply and SLOWLOG GET 1's, as redis_exporter's slowlog series."""
    if not isinstance(length, int):
        return
    metrics.add("redis_slowlog_length", GAUGE, "Entries in the slow log.", length)
    entry = parse_slowlog_entry(newest) or SlowlogEntry(0.0, 0.0)
    metrics.add("redis_slowlog_last_id", GAUGE, "Id of the newest slow log entry.", entry.id)
    metrics.add(
        "redis_last_slow_execution_duration_seconds",
        GAUGE,
        "Duration of the newest slow log entry.",
        entry.duration,
    )


def add_latency_spikes(metrics: MetricSet, reply: object) -> None:
    """LATENCY LATEST: each event's latest spike, when and how long."""
    for spike in parse_latency_latest(reply):
        labels = (("event_name", spike.event),)
        metrics.add(
            "redis_latency_spike_last",
            GAUGE,
            "Unix time of the latest latency spike.",
            spike.when,
            labels,
        )
        metrics.add(
            "redis_latency_spike_duration_seconds",
            GAUGE,
            "Duration of the latest latency spike.",
            spike.duration,
            labels,
        )


def add_commandlog(metrics: MetricSet, replies: dict[tuple[str, ...], object]) -> None:
    """COMMANDLOG LEN of each kind, where the server answered it."""
    for command, name in COMMANDLOG.items():
        length = replies.get(command)
        if isinstance(length, int):
            metrics.add(name, GAUGE, f"Entries in the {command[2]} command log.", length)
