"""Connections that nobody closes: no idle timeout, no TCP keepalive.

Idleness is judged from INFO, not CLIENT LIST: the exporter reads CLIENT LIST only when
asked (it costs O(clients) on the event loop). The rule: with at least MANY_CLIENTS
connected, fewer than IDLE_COMMANDS_PER_CLIENT commands per second per connection over
the sample means most connections sit idle (a pool in use sends far more).
"""

from __future__ import annotations

from cachescope.alerts.audits.model import AuditDef, AuditIssue, Settings
from cachescope.analyze.figures import Figures

# Below this many clients idle connections cost little (about 20 KB of buffers each) and
# the limit (maxclients, 10000 by default) is far: not worth a finding.
MANY_CLIENTS = 50
# A connection of a busy pool sends many commands a second; under one per second on
# average, most of the connections do nothing (leaked, or pools far too large).
IDLE_COMMANDS_PER_CLIENT = 1.0
# Clients / maxclients from which running out is near (RedisConnectionsNearLimit's 80%).
NEAR_MAXCLIENTS = 0.8
# The practice's values, also Redis' own defaults for tcp-keepalive (since 3.2.1).
TIMEOUT_FIX = 300
KEEPALIVE_FIX = 300


def _idle_clients(s: Settings, f: Figures) -> AuditIssue | None:
    if s.config.get("timeout") != "0" or f.clients is None or f.ops_per_second is None:
        return None
    if f.clients < MANY_CLIENTS:
        return None
    per_client = f.ops_per_second / f.clients
    if per_client >= IDLE_COMMANDS_PER_CLIENT:
        return None
    near = bool(f.maxclients) and f.clients >= NEAR_MAXCLIENTS * (f.maxclients or 0.0)
    return AuditIssue(
        issue=(
            f"timeout 0 never closes idle connections, and {f.clients:.0f} clients send "
            f"{f.ops_per_second:.1f} commands/s in all ({per_client:.2f} each): most sit "
            "idle, and connections left by clients that died pile up towards maxclients"
        ),
        evidence={
            "timeout": "0",
            "connected_clients": int(f.clients),
            "commands_per_second": round(f.ops_per_second, 2),
            "commands_per_second_per_client": round(per_client, 3),
            "maxclients": None if f.maxclients is None else int(f.maxclients),
            "note": "idleness estimated from INFO; CLIENT LIST (idle= per client) is not read",
        },
        fix=f"CONFIG SET timeout {TIMEOUT_FIX}",
        priority="high" if near else "low",
    )


def _tcp_keepalive_off(s: Settings, f: Figures) -> AuditIssue | None:
    if s.config.get("tcp-keepalive") != "0":
        return None
    clients = None if f.clients is None else int(f.clients)
    return AuditIssue(
        issue=(
            f"tcp-keepalive 0: of the {clients if clients is not None else 'unknown'} "
            "connections, those whose peer vanished (a crashed host, a NAT or firewall "
            "dropping the flow) are never detected and hold their slot and buffers"
        ),
        evidence={
            "tcp-keepalive": "0",
            "timeout": s.config.get("timeout"),
            "connected_clients": clients,
        },
        fix=f"CONFIG SET tcp-keepalive {KEEPALIVE_FIX}",
        priority="low",
    )


AUDITS = (
    AuditDef(
        name="idle-clients-without-timeout",
        kind="redis",
        category="connections",
        rationale=(
            "With timeout 0 an idle connection stays forever: leaked connections accumulate "
            "until maxclients refuses new ones."
        ),
        needs=("timeout",),
        check=_idle_clients,
        action="close idle connections after a while (timeout 300); fix the pools that leak",
    ),
    AuditDef(
        name="tcp-keepalive-off",
        kind="redis",
        category="connections",
        rationale=(
            "Without TCP keepalive a peer that vanished without a FIN is never noticed; its "
            "connection stays open, and NATs drop idle flows silently."
        ),
        needs=("tcp-keepalive", "timeout"),
        check=_tcp_keepalive_off,
        action="turn TCP keepalive on (tcp-keepalive 300)",
    ),
)
