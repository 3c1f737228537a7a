"""Eviction and memory settings against how this instance's keys expire and what it holds."""

from __future__ import annotations

from cachescope.alerts.audits.model import AuditDef, AuditIssue, Settings
from cachescope.analyze.checks import human_bytes, pct
from cachescope.analyze.figures import Figures

# A volatile-* policy can evict only keys with a TTL: below this share there is
# little it can free, and writes fail with OOM once memory is full.
VOLATILE_MIN_TTL_SHARE = 0.5
# Memory use from which a policy that cannot evict makes the harm near (high priority).
NEAR_FULL = 0.9


def _volatile_without_ttls(s: Settings, f: Figures) -> AuditIssue | None:
    policy = s.config.get("maxmemory-policy", "")
    if not policy.startswith("volatile-") or not f.keys:
        return None
    share = (f.keys_expiring or 0.0) / f.keys
    if share >= VOLATILE_MIN_TTL_SHARE:
        return None
    near = f.memory_ratio is not None and f.memory_ratio >= NEAR_FULL
    return AuditIssue(
        issue=(
            f"maxmemory-policy {policy} can evict only keys with a TTL, and only "
            f"{pct(share)} of the {f.keys:.0f} keys have one: when memory fills, writes "
            "fail with OOM instead of evicting (or give the application's keys a TTL)"
        ),
        evidence={
            "maxmemory-policy": policy,
            "keys": int(f.keys),
            "keys_with_ttl": int(f.keys_expiring or 0),
            "memory_used_percent": None
            if f.memory_ratio is None
            else round(f.memory_ratio * 100, 1),
        },
        fix="CONFIG SET maxmemory-policy allkeys-lru",
        priority="high" if near else "medium",
    )


def _maxmemory_unset(s: Settings, f: Figures) -> AuditIssue | None:
    if s.config.get("maxmemory") != "0" or f.role == "slave":
        return None
    system = f.system_memory
    suggestion = f"{int(system * 0.6 / 2**20)}mb" if system else "<60% of the host's memory>"
    return AuditIssue(
        issue=(
            "maxmemory is 0 (unlimited): the dataset grows until the host runs out of memory "
            f"and the kernel kills Redis; the host has {human_bytes(system) or 'unknown'}"
        ),
        evidence={
            "maxmemory": "0",
            "used_memory": int(f.used or 0),
            "total_system_memory": None if system is None else int(system),
            "note": "a container's own memory limit is not visible from outside",
        },
        fix=f"CONFIG SET maxmemory {suggestion}",
        priority="medium",
    )


AUDITS = (
    AuditDef(
        name="volatile-policy-without-ttls",
        kind="redis",
        category="memory",
        rationale=(
            "volatile-* policies evict only keys that have a TTL; on a keyspace that mostly "
            "has none they free nothing, and the instance behaves like noeviction."
        ),
        needs=("maxmemory-policy",),
        check=_volatile_without_ttls,
        action="use an allkeys-* policy, or set a TTL on the keys the application writes",
    ),
    AuditDef(
        name="maxmemory-unset",
        kind="redis",
        category="memory",
        rationale=(
            "Without maxmemory Redis neither evicts nor refuses writes: it grows until the "
            "OOM killer ends it, and a cache loses everything at once."
        ),
        needs=("maxmemory",),
        check=_maxmemory_unset,
        action="set maxmemory with headroom for replication and client buffers and fragmentation",
    ),
)
