"""The configuration audit: every check defined once, one module per area.

Where is everything about a check such as `maxmemory-unset`? In its area module here:
its rationale, the settings it needs, the check, its action and its fix. `cachescope
analyze` runs them (analyze/audit.py), and `cachescope rules docs` lists them.
"""

from __future__ import annotations

from cachescope.alerts.audits import (
    connections,
    eviction,
    latency,
    memcached,
    memory,
    persistence,
    replication,
    security,
    topology,
)
from cachescope.alerts.audits.model import AuditDef

ALL: tuple[AuditDef, ...] = (
    *memory.AUDITS,
    *eviction.AUDITS,
    *persistence.AUDITS,
    *connections.AUDITS,
    *latency.AUDITS,
    *replication.AUDITS,
    *topology.AUDITS,
    *security.AUDITS,
    *memcached.AUDITS,
)
BY_NAME: dict[str, AuditDef] = {audit.name: audit for audit in ALL}


def needs(kind: str) -> set[str]:
    """The CONFIG names the checks of this kind of target read."""
    return {name for audit in ALL if audit.kind == kind for name in audit.needs}
