"""Every alert, defined once: one module per area, one `AlertDef` per alert.

Where is everything about RedisMemoryNearLimit? In the area module that defines it
(`grep -rl RedisMemoryNearLimit exporter/cachescope/alerts`): its PromQL, summary and
description, its analyze check, category and action, and the bound a dashboard panel draws
for it (`bound_key`, `fires_below`); its runbook section is
`runbooks/RedisMemoryNearLimit.md` next to it, and its numbers (thresholds, `for`,
severities) are its entry in `rules/thresholds.yml`. `cachescope rules render` writes the
rule files from here, and `cachescope rules docs` docs/runbooks.md and README's tables.

Each area module is one Prometheus rule group (`GROUP`), its alerts in `ALERTS` in the
order they are rendered.
"""

from __future__ import annotations

from types import ModuleType

from cachescope.alerts import (
    exporter,
    memcached,
    redis_availability,
    redis_clients,
    redis_cluster,
    redis_efficiency,
    redis_keyspace,
    redis_latency,
    redis_memory,
    redis_persistence,
    redis_replication,
    redis_search,
    redis_sentinel,
)
from cachescope.alerts.model import AlertDef

REDIS_AREAS: tuple[ModuleType, ...] = (
    redis_availability,
    redis_memory,
    redis_efficiency,
    redis_clients,
    redis_latency,
    redis_replication,
    redis_persistence,
    redis_cluster,
    redis_sentinel,
    redis_keyspace,
    redis_search,
)
AREAS: tuple[ModuleType, ...] = (*REDIS_AREAS, memcached, exporter)
ALL: tuple[AlertDef, ...] = tuple(alert for area in AREAS for alert in area.ALERTS)
BY_NAME: dict[str, AlertDef] = {alert.name: alert for alert in ALL}
