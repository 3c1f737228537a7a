"""Persistence against what the instance holds: off the latency path of a cache, on for a store.

A cache can reload what it loses, so RDB forks and per-write fsyncs cost it latency for
nothing; a store whose keys never expire and are never evicted has nowhere to reload
them from, so with no persistence at all a restart empties it.
"""

from __future__ import annotations

from cachescope.alerts.audits.eviction import CACHE_TTL_SHARE
from cachescope.alerts.audits.model import AuditDef, AuditIssue, Evidence, Settings
from cachescope.analyze.checks import pct
from cachescope.analyze.figures import Figures

# A fork copies the page tables while every client waits: past 10 ms (the practice's
# warning for a command's latency) each save is a stall the clients notice.
FORK_SLOW_USEC = 10_000


def _ttl_share(f: Figures) -> float | None:
    return None if not f.keys else (f.keys_expiring or 0.0) / f.keys


def _used_as_cache(s: Settings, f: Figures) -> bool:
    """An allkeys-* policy, or most keys with a TTL: what it loses, it can reload."""
    share = _ttl_share(f)
    return s.config.get("maxmemory-policy", "").startswith("allkeys-") or (
        share is not None and share >= CACHE_TTL_SHARE
    )


def _cache_evidence(s: Settings, f: Figures) -> dict[str, str | int | None]:
    return {
        "maxmemory-policy": s.config.get("maxmemory-policy", ""),
        "keys": None if f.keys is None else int(f.keys),
        "keys_with_ttl": None if f.keys_expiring is None else int(f.keys_expiring),
        "latest_fork_usec": int(s.info.get("latest_fork_usec", "0") or 0),
    }


def _why_cache(s: Settings, f: Figures) -> str:
    share = _ttl_share(f)
    policy = s.config.get("maxmemory-policy", "")
    if policy.startswith("allkeys-"):
        return f"maxmemory-policy {policy}"
    return f"{pct(share or 0.0)} of its keys have a TTL"


def _rdb_save_on_cache(s: Settings, f: Figures) -> AuditIssue | None:
    rules = s.config.get("save", "")
    if not rules.strip() or not _used_as_cache(s, f):
        return None
    evidence: Evidence = {"save": rules, **_cache_evidence(s, f)}
    fork = int(s.info.get("latest_fork_usec", "0") or 0)
    return AuditIssue(
        issue=(
            f"RDB save rules '{rules}' on an instance used as a cache ({_why_cache(s, f)}): "
            f"each save forks, and the last fork stopped every client for {fork / 1000:.1f} ms "
            "to persist data the cache can reload"
        ),
        evidence=evidence,
        fix='CONFIG SET save ""',
        priority="medium" if fork >= FORK_SLOW_USEC else "low",
    )


def _aof_always_on_cache(s: Settings, f: Figures) -> AuditIssue | None:
    if s.config.get("appendonly") != "yes" or s.config.get("appendfsync") != "always":
        return None
    if not _used_as_cache(s, f):
        return None
    evidence: Evidence = {"appendonly": "yes", "appendfsync": "always", **_cache_evidence(s, f)}
    ops = f.ops_per_second
    rate = "" if ops is None else f" ({ops:.0f} commands/s now)"
    return AuditIssue(
        issue=(
            f"appendfsync always on an instance used as a cache ({_why_cache(s, f)}): every "
            f"write waits for a disk fsync{rate}, for data the cache can reload (everysec "
            "loses at most a second; appendonly no, nothing on disk at all)"
        ),
        evidence=evidence,
        fix="CONFIG SET appendfsync everysec",
        priority="medium",
    )


def _store_without_persistence(s: Settings, f: Figures) -> AuditIssue | None:
    if s.config.get("save", "").strip() or s.config.get("appendonly") != "no":
        return None
    if s.config.get("maxmemory-policy") != "noeviction" or f.role == "slave" or not f.keys:
        return None  # a replica's data lives on its primary, checked there
    share = _ttl_share(f) or 0.0
    if share >= CACHE_TTL_SHARE:
        return None
    without = int(f.keys) - int(f.keys_expiring or 0)
    return AuditIssue(
        issue=(
            f'no persistence (save "", appendonly no) on a store: {without} of the '
            f"{f.keys:.0f} keys have no TTL and noeviction keeps them, so they are meant to "
            "stay, but a restart or crash empties the instance (an AOF with appendfsync "
            "everysec, the default, loses at most a second)"
        ),
        evidence={
            "save": s.config.get("save", ""),
            "appendonly": "no",
            "maxmemory-policy": "noeviction",
            "keys": int(f.keys),
            "keys_without_ttl": without,
        },
        fix="CONFIG SET appendonly yes",
        priority="medium",
    )


AUDITS = (
    AuditDef(
        name="rdb-save-on-cache",
        kind="redis",
        category="persistence",
        rationale=(
            "RDB snapshots fork the process: the fork stalls every client, and copy-on-write "
            "grows memory, to keep data a cache can reload from its source."
        ),
        needs=("save", "maxmemory-policy"),
        check=_rdb_save_on_cache,
        action='turn RDB snapshots off on a cache (save ""), or persist on one replica only',
    ),
    AuditDef(
        name="aof-always-on-cache",
        kind="redis",
        category="persistence",
        rationale=(
            "appendfsync always makes every write wait for the disk: the slowest persistence "
            "there is, on data a cache can reload."
        ),
        needs=("appendonly", "appendfsync", "maxmemory-policy"),
        check=_aof_always_on_cache,
        action="use appendfsync everysec, or no AOF at all on a cache",
    ),
    AuditDef(
        name="store-without-persistence",
        kind="redis",
        category="persistence",
        rationale=(
            "Keys without a TTL under noeviction are data kept on purpose: without RDB or "
            "AOF a restart loses all of them."
        ),
        needs=("save", "appendonly", "maxmemory-policy"),
        check=_store_without_persistence,
        action="turn on AOF (appendonly yes, appendfsync everysec) or RDB snapshots",
    ),
)
