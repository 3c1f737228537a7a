"""Which alerts analyze judges on a sample of each kind of target, from the alert registry."""

from __future__ import annotations

from cachescope import alerts
from cachescope.analyze.checks import Check


def checks(kind: str) -> dict[str, Check]:
    """Alert name -> its check, for the alerts analyze judges on `kind` targets, in order."""
    return {
        alert.name: alert.check
        for alert in alerts.ALL
        if alert.check is not None and kind in alert.kinds
    }


REDIS = checks("redis")
MEMCACHED = checks("memcached")
# Alert name -> why analyze cannot judge it from one sample (history, a view from outside).
NOT_JUDGED: dict[str, str] = {
    alert.name: alert.unjudged for alert in alerts.ALL if alert.check is None
}
