"""Who a server is, from INFO: version, role, mode and modules, as info metrics.

redis_instance_info{role="master",redis_version="7.0.15",redis_mode="standalone",...} 1
redis_module_info{name="search",ver="20811",...} 1
"""

from __future__ import annotations

from cachescope.config.labelnames import (
    INSTANCE_LABELS,
    MODULE_LABELS,
    OPTIONAL_INSTANCE_LABELS,
    ROLE_LABEL,
)
from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import GAUGE, Labels
from cachescope.redis.parse import to_float


def add_module(metrics: MetricSet, module: dict[str, str]) -> None:
    labels = tuple((label, module.get(label, "")) for label in MODULE_LABELS)
    metrics.add("redis_module_info", GAUGE, "A loaded module, as labels.", 1, labels)


def add_identity(metrics: MetricSet, fields: dict[str, str], now: float) -> None:
    uptime = to_float(fields.get("uptime_in_seconds", ""))
    if uptime is not None:
        metrics.add(
            "redis_start_time_seconds",
            GAUGE,
            "Unix time the server started.",
            float(int(now - uptime)),
        )
    labels = [(name, fields.get(name, "")) for name in INSTANCE_LABELS]
    if not fields.get("redis_mode"):
        labels[3] = ("redis_mode", fields.get("server_mode", ""))
    labels += [(name, fields[name]) for name in OPTIONAL_INSTANCE_LABELS if fields.get(name)]
    metrics.add(
        "redis_instance_info", GAUGE, "Facts about the server, as labels.", 1, tuple(labels)
    )
    if fields.get("role") in ("slave", "replica"):  # Dragonfly says "replica"
        metrics.add(
            "redis_slave_info",
            GAUGE,
            "Facts about this replica, as labels.",
            1,
            (
                ("master_host", fields.get("master_host", "")),
                ("master_port", fields.get("master_port", "")),
                ("read_only", fields.get("slave_read_only", "")),
            ),
        )


# redis_exporter's --append-instance-role-label: INFO's role on every series.


def with_role(base: Labels, role: str) -> Labels:
    """`base` with redis_exporter's instance_role label set to `role`; without it if ''."""
    kept = tuple(pair for pair in base if pair[0] != ROLE_LABEL)
    return (*kept, (ROLE_LABEL, role)) if role else kept


def role_of(fields: dict[str, str]) -> str:
    """INFO's role ('master' or 'slave'; a fork's own word if short); '' for a sentinel."""
    role = fields.get("role", "")
    return role if role.isalnum() and len(role) <= 16 else ""
