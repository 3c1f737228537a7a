"""Redis alerts on client connections: the maxclients limit, rejections, blocking, churn."""

from __future__ import annotations

from cachescope.alerts.model import AlertDef
from cachescope.analyze.checks import Params, connections_near_limit, event
from cachescope.analyze.figures import Figures
from cachescope.rules.model import first_events

GROUP = "cachescope.redis.clients"
_UPTIME = "redis_uptime_in_seconds{@{selector}}"


def _rejected(f: Figures, p: Params) -> str | None:
    return event(f, "rejected", "connections rejected at maxclients")


def _blocked(f: Figures, p: Params) -> str | None:
    if f.blocked is None or f.blocked <= p["threshold"]:
        return None
    return f"{f.blocked:.0f} clients in a blocking call (threshold {p['threshold']})"


def _churn(f: Figures, p: Params) -> str | None:
    rate = f.connections_per_second
    if rate is None or rate <= p["threshold"]:
        return None
    return f"{rate:.0f} new connections/s (threshold {p['threshold']}): clients do not pool"


ALERTS = (
    AlertDef(
        name="RedisConnectionsNearLimit",
        expr=(
            "redis_connected_clients{@{selector}}\n"
            "/ (redis_config_maxclients{@{selector}} > 0) > @{threshold}"
        ),
        summary="Redis client connections are close to maxclients.",
        description=(
            "Redis {{ $labels.instance }} has {{ $value | humanizePercentage }} of maxclients"
            " connected (threshold @{threshold|pct})."
        ),
        category="connections",
        action=(
            "find the client that holds them (CLIENT LIST), fix pool sizes or leaks, drop idle "
            "ones (timeout 300); raise maxclients only if the fd limit allows"
        ),
        check=connections_near_limit,
    ),
    AlertDef(
        name="RedisRejectedConnections",
        expr=first_events("redis_rejected_connections_total{@{selector}}", _UPTIME),
        summary="Redis rejects connections at maxclients.",
        description=(
            "Redis {{ $labels.instance }} rejected {{ $value | humanize }} connections in the"
            " last 5 minutes because maxclients was reached."
        ),
        category="connections",
        action=(
            "kill idle clients (CONFIG SET timeout 60), fix pool sizes or leaks, "
            "raise maxclients if justified"
        ),
        check=_rejected,
    ),
    AlertDef(
        name="RedisBlockedClientsHigh",
        expr="redis_blocked_clients{@{selector}} > @{threshold}",
        summary="Many Redis clients are blocked.",
        description=(
            "Redis {{ $labels.instance }} has {{ $value | humanize }} clients in a blocking"
            " call (threshold @{threshold})."
        ),
        category="connections",
        action=(
            "size queue workers to the queue; check WAIT against replication; fix clients that "
            "time out a blocking call and reconnect without closing"
        ),
        check=_blocked,
    ),
    AlertDef(
        name="RedisConnectionChurnHigh",
        expr="rate(redis_connections_received_total{@{selector}}[5m]) > @{threshold}",
        summary="Redis clients open connections at a high rate.",
        description=(
            "Redis {{ $labels.instance }} accepts {{ $value | humanize }} new connections/s"
            " (threshold @{threshold}): clients are probably not pooling connections."
        ),
        category="connections",
        action=(
            "use connection pooling or persistent connections in the clients; put a proxy in "
            "front of short-lived clients"
        ),
        check=_churn,
    ),
)
