"""Replication settings against this instance's replicas and the rate it writes.

The write rate is the replication stream's during the analyze sample: master_repl_offset's
delta over the interval (never offset / uptime, a lifetime average that a bulk load long
ago keeps high on an idle primary); INFO's instantaneous kbps only where the offset was
not sampled. Cluster and Sentinel settings: audits/topology.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from cachescope.alerts.audits.model import AuditDef, AuditIssue, Settings, number
from cachescope.analyze.checks import human_bytes
from cachescope.analyze.figures import Figures

# A full resync transfers the dataset while the primary buffers every write for the
# replica; the buffer must hold the writes of the whole sync. A sync takes at least this
# long (fork, transfer, load on the replica) even for a small dataset...
MIN_SYNC_SECONDS = 60.0
# ...and longer for a big one: the RDB crosses the network and is loaded at about this
# rate (a 1 Gbit/s link, loading included).
SYNC_BYTES_PER_SECOND = 100 * 2**20
# A replica that reconnects within this many seconds should resume from the backlog
# (a partial resync) rather than need a full one: a restart or a network blip.
BACKLOG_SECONDS = 60.0
# Below this write rate (bytes/s) the stream is PINGs and a trickle: nothing to size for.
QUIET_BYTES_PER_SECOND = 1024.0


def write_rate(fields: Mapping[str, str], f: Figures) -> float:
    """Bytes per second of the replication stream during the sample."""
    if f.repl_bytes_per_second is not None:
        return f.repl_bytes_per_second
    kbps = max(
        number(fields, "instantaneous_output_repl_kbps")
        / max(number(fields, "connected_slaves"), 1),
        number(fields, "instantaneous_input_repl_kbps"),
    )
    return kbps * 1024


def _replica_writable(s: Settings, f: Figures) -> AuditIssue | None:
    if s.info.get("role") != "slave" or s.config.get("replica-read-only") != "no":
        return None
    master = f"{s.info.get('master_host', '?')}:{s.info.get('master_port', '?')}"
    return AuditIssue(
        issue=(
            f"this replica of {master} accepts writes (replica-read-only no): what a client "
            "writes here is lost at the next resync and never reaches the primary"
        ),
        evidence={"role": "slave", "master": master, "replica-read-only": "no"},
        fix="CONFIG SET replica-read-only yes",
        priority="medium",
    )


def _min_replicas_unmet(s: Settings, f: Figures) -> AuditIssue | None:
    wanted = int(number(s.config, "min-replicas-to-write"))
    if wanted <= 0 or s.info.get("role") != "master":
        return None
    # INFO counts the replicas within min-replicas-max-lag once the setting is on.
    good = "min_slaves_good_slaves" if "min_slaves_good_slaves" in s.info else "connected_slaves"
    online = int(number(s.info, good))
    if online >= wanted:
        return None
    return AuditIssue(
        issue=(
            f"min-replicas-to-write is {wanted} but {online} replica(s) are online within "
            f"{s.config.get('min-replicas-max-lag', '?')} s of lag: every write is refused "
            "with NOREPLICAS now"
        ),
        evidence={
            "min-replicas-to-write": wanted,
            "min-replicas-max-lag": s.config.get("min-replicas-max-lag"),
            "replicas_online": online,
            "connected_slaves": int(number(s.info, "connected_slaves")),
        },
        fix=f"CONFIG SET min-replicas-to-write {online}",
        priority="high",  # the harm is not near, it is here
    )


def replica_limits(value: str) -> tuple[int, int, int] | None:
    """(hard bytes, soft bytes, soft seconds) of the replica class of the setting."""
    words = value.split()
    for at in range(0, len(words) - 3, 4):
        if words[at] in ("replica", "slave"):
            try:
                return _size(words[at + 1]), _size(words[at + 2]), int(words[at + 3])
            except ValueError:
                return None
    return None


def _size(text: str) -> int:
    units = {"gb": 2**30, "mb": 2**20, "kb": 2**10, "g": 10**9, "m": 10**6, "k": 10**3}
    lower = text.lower()
    for suffix, scale in units.items():
        if lower.endswith(suffix):
            return int(lower[: -len(suffix)]) * scale
    return int(lower)


def seconds_covered(hard: int, soft: int, soft_seconds: int, rate: float) -> float:
    """How long a replica's buffer may grow at `rate` before Redis drops the replica."""
    limits = [hard / rate] if hard else []
    if soft:
        limits.append(soft / rate + soft_seconds)  # above soft for soft_seconds in a row
    return min(limits, default=math.inf)


def _replica_buffer(s: Settings, f: Figures) -> AuditIssue | None:
    limits = replica_limits(s.config.get("client-output-buffer-limit", ""))
    rate = write_rate(s.info, f)
    if limits is None or rate < QUIET_BYTES_PER_SECOND:
        return None
    hard, soft, soft_seconds = limits
    covered = seconds_covered(hard, soft, soft_seconds, rate)
    used = f.used or number(s.info, "used_memory")
    sync = max(MIN_SYNC_SECONDS, used / SYNC_BYTES_PER_SECOND)
    if covered >= sync:
        return None
    full = int(number(s.info, "sync_full"))
    replicas = int(number(s.info, "connected_slaves"))
    need = _mb(rate * sync * 2)
    return AuditIssue(
        issue=(
            f"the replica output buffer holds {covered:.1f} s of writes at "
            f"{human_bytes(rate)}/s, a full resync of {human_bytes(used)} takes about "
            f"{sync:.0f} s: the primary drops the replica mid-sync and it starts over"
        ),
        evidence={
            "client-output-buffer-limit": s.config.get("client-output-buffer-limit"),
            "replica_hard_limit": hard,
            "replica_soft_limit": soft,
            "replica_soft_seconds": soft_seconds,
            "write_bytes_per_second": round(rate),
            "seconds_covered": round(covered, 2),
            "sync_seconds_estimate": round(sync),
            "sync_full": full,
            "connected_slaves": replicas,
        },
        fix=f'CONFIG SET client-output-buffer-limit "replica {need}mb {need // 2}mb 60"',
        # More full syncs than replicas: some replica already resynced twice, a loop.
        priority="high" if replicas and full > replicas else "medium",
    )


def _mb(size: float) -> int:
    return max(1, math.ceil(size / 2**20))


def _backlog_small(s: Settings, f: Figures) -> AuditIssue | None:
    info = s.info
    replicated = number(info, "connected_slaves") > 0 or info.get("role") == "slave"
    rate = write_rate(info, f)
    if not replicated or rate < QUIET_BYTES_PER_SECOND:
        return None
    try:
        size = int(s.config.get("repl-backlog-size", ""))
    except ValueError:
        return None
    covered = size / rate
    if covered >= BACKLOG_SECONDS:
        return None
    return AuditIssue(
        issue=(
            f"repl-backlog-size {human_bytes(size)} covers {covered:.1f} s of writes at "
            f"{human_bytes(rate)}/s: a replica away longer than that (a restart, a network "
            "blip) needs a full resync instead of a partial one"
        ),
        evidence={
            "repl-backlog-size": size,
            "write_bytes_per_second": round(rate),
            "seconds_covered": round(covered, 2),
            "sync_full": int(number(info, "sync_full")),
            "sync_partial_ok": int(number(info, "sync_partial_ok")),
        },
        fix=f"CONFIG SET repl-backlog-size {_mb(rate * BACKLOG_SECONDS)}mb",
        priority="medium",
    )


AUDITS = (
    AuditDef(
        name="replica-writable",
        kind="redis",
        category="replication",
        rationale=(
            "A writable replica silently diverges from its primary; its writes vanish at the "
            "next resync, and clients that read them see data the primary never had."
        ),
        needs=("replica-read-only",),
        check=_replica_writable,
        action="make replicas read-only",
    ),
    AuditDef(
        name="min-replicas-unmet",
        kind="redis",
        category="replication",
        rationale=(
            "With fewer good replicas than min-replicas-to-write, the primary refuses every "
            "write: the setting protects durability by turning a lost replica into an outage."
        ),
        needs=("min-replicas-to-write", "min-replicas-max-lag"),
        check=_min_replicas_unmet,
        action="bring the replicas back, or lower min-replicas-to-write to the replicas you run",
    ),
    AuditDef(
        name="replica-buffer-too-small",
        kind="redis",
        category="replication",
        rationale=(
            "During a full resync the primary buffers writes for the replica; a buffer "
            "limit below the writes of one sync drops the replica, which syncs again: a loop."
        ),
        needs=("client-output-buffer-limit",),
        check=_replica_buffer,
        action="raise the replica class of client-output-buffer-limit above a sync's writes",
    ),
    AuditDef(
        name="repl-backlog-small",
        kind="redis",
        category="replication",
        rationale=(
            "The backlog lets a replica that reconnects resume where it stopped; one that "
            "covers under a minute of writes turns every brief disconnect into a full resync."
        ),
        needs=("repl-backlog-size",),
        check=_backlog_small,
        action="size repl-backlog-size for a minute or more of writes",
    ),
)
