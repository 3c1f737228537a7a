"""What happens when this instance fills: the policy against its TTLs, maxmemory against the host.

memory.py holds the first two memory checks (a volatile-* policy without TTLs, maxmemory
unset); these are the other side of each: noeviction on a keyspace that expires like a
cache, and a maxmemory the host cannot hold once what maxmemory does not count is added.
"""

from __future__ import annotations

from cachescope.alerts.audits.model import AuditDef, AuditIssue, Settings
from cachescope.analyze.checks import human_bytes, pct
from cachescope.analyze.figures import Figures

# Share of keys with a TTL from which an instance is used as a cache: the same line the
# practice draws for "TTLs everywhere" (> 50% without a TTL on a cache is a warning).
CACHE_TTL_SHARE = 0.5
# Memory use from which a policy that cannot evict makes the harm near (high priority),
# as in memory.py and the practice's noeviction warning.
NEAR_FULL = 0.9
# Fragmentation counted when the sample's own ratio says nothing (small instances, where
# RSS / used is dominated by the allocator's fixed cost): jemalloc on a steady workload
# stays near 1.1-1.2; the practice warns at 1.5.
FRAGMENTATION_ALLOWANCE = 1.2
# The observed ratio is meaningful only above this much used memory (the practice, and
# RedisFragmentationHigh's min_used_bytes).
FRAGMENTATION_MIN_USED = 100 * 2**20
# Share of the host left to the kernel, its page cache and every other process.
HOST_RESERVE = 0.1
# RSS share of the host from which the kernel's OOM killer is near (RedisRssNearSystemMemory).
RSS_NEAR_HOST = 0.9
CONTAINER_NOTE = "a container's own memory limit is not visible from outside: compare with it too"


def _noeviction_with_ttls(s: Settings, f: Figures) -> AuditIssue | None:
    policy = s.config.get("maxmemory-policy", "")
    if policy != "noeviction" or s.config.get("maxmemory", "0") == "0" or not f.keys:
        return None
    with_ttl = int(f.keys_expiring or 0)
    share = with_ttl / f.keys
    if share < CACHE_TTL_SHARE:
        return None  # a store: refusing writes rather than losing keys is what it wants
    near = f.memory_ratio is not None and f.memory_ratio >= NEAR_FULL
    # Keys without a TTL are likely meant to stay: volatile-lru evicts only the others.
    policy_fix = "allkeys-lru" if with_ttl >= f.keys else "volatile-lru"
    return AuditIssue(
        issue=(
            f"maxmemory-policy noeviction on an instance used as a cache ({pct(share)} of the "
            f"{f.keys:.0f} keys have a TTL): when memory fills, writes fail with OOM instead "
            "of evicting keys that would expire anyway"
            + ("" if with_ttl >= f.keys else "; volatile-lru evicts only the keys with a TTL")
        ),
        evidence={
            "maxmemory-policy": policy,
            "maxmemory": int(f.maxmemory or 0),
            "keys": int(f.keys),
            "keys_with_ttl": with_ttl,
            "memory_used_percent": None
            if f.memory_ratio is None
            else round(f.memory_ratio * 100, 1),
        },
        fix=f"CONFIG SET maxmemory-policy {policy_fix}",
        priority="high" if near else "medium",
    )


def _fragmentation(f: Figures) -> float:
    """The ratio to plan for: the observed one where it means something, else the allowance."""
    if f.fragmentation is None or (f.used or 0.0) < FRAGMENTATION_MIN_USED:
        return FRAGMENTATION_ALLOWANCE
    return max(f.fragmentation, 1.0)


def _replica_buffer(s: Settings) -> int:
    """The hard limit of one replica's output buffer (client-output-buffer-limit replica)."""
    words = s.config.get("client-output-buffer-limit", "").split()
    for i, word in enumerate(words[:-1]):
        if word in ("replica", "slave") and words[i + 1].isdigit():
            return int(words[i + 1])
    return 0


def _maxmemory_above_host(s: Settings, f: Figures) -> AuditIssue | None:
    maxmemory = int(s.config.get("maxmemory", "0") or 0)
    system = int(s.info.get("total_system_memory", "0") or 0)
    if not maxmemory or not system:
        return None
    fragmentation = _fragmentation(f)
    backlog = int(s.config.get("repl-backlog-size", "0") or 0)
    replicas = int(s.info.get("connected_slaves", "0") or 0)
    buffers = _replica_buffer(s) * replicas + int(s.info.get("mem_clients_normal", "0") or 0)
    needed = int(maxmemory * fragmentation) + backlog + buffers
    room = int(system * (1 - HOST_RESERVE))
    if needed <= room:
        return None
    # Whole megabytes, one fewer for client buffers that move between two reads.
    fitting = max(int((room - backlog - buffers) / fragmentation) // 2**20 - 1, 1)
    near = f.rss is not None and f.rss >= system * RSS_NEAR_HOST
    return AuditIssue(
        issue=(
            f"maxmemory {human_bytes(maxmemory)} needs about {human_bytes(needed)} when full "
            f"(fragmentation x{fragmentation:.2f}, replication backlog and client buffers), "
            f"more than the {human_bytes(room)} the host's {human_bytes(system)} leaves to "
            "Redis: the kernel's OOM killer ends it before eviction starts"
        ),
        evidence={
            "maxmemory": maxmemory,
            "total_system_memory": system,
            "needed_at_full": needed,
            "fragmentation_counted": round(fragmentation, 2),
            "repl-backlog-size": backlog,
            "connected_slaves": replicas,
            "client_buffers_counted": buffers,
            "used_memory_rss": None if f.rss is None else int(f.rss),
            "note": CONTAINER_NOTE,
        },
        fix=f"CONFIG SET maxmemory {fitting}mb",
        priority="high" if near else "medium",
    )


AUDITS = (
    AuditDef(
        name="noeviction-with-ttls",
        kind="redis",
        category="memory",
        rationale=(
            "An instance whose keys mostly expire is a cache; under noeviction a full cache "
            "refuses writes (OOM) instead of evicting what it could reload."
        ),
        needs=("maxmemory-policy", "maxmemory"),
        check=_noeviction_with_ttls,
        action="use an eviction policy: allkeys-lru, or volatile-lru to keep keys without a TTL",
    ),
    AuditDef(
        name="maxmemory-above-host",
        kind="redis",
        category="memory",
        rationale=(
            "maxmemory counts the dataset only: fragmentation, the replication backlog and "
            "client output buffers come on top, and the OOM killer acts on the total."
        ),
        needs=("maxmemory", "repl-backlog-size", "client-output-buffer-limit"),
        check=_maxmemory_above_host,
        action="lower maxmemory so that it fits the host with its buffers and fragmentation",
    ),
)
