"""Panel thresholds taken from the alerts, so a panel changes colour where an alert fires.

An alert with warning and critical levels gives an orange and a red step; an alert
with one level gives a red step. Grafana colours a value from a step upwards (>=),
the rules mostly compare with `>`: the two differ only at exactly the threshold.
A `> 0` alert (threshold 0) has no step Grafana can draw without colouring 0 itself,
so it gets only its runbook link.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from cachescope.alerts import BY_NAME
from cachescope.rules.model import duration_seconds
from cachescope.rules.render import levels

LINK_PREFIX = "Runbook: "
# Set as the field description of every field coloured by alerts; tests read it back.
DRAWN_PREFIX = "Colours at the thresholds of: "


class Bound(NamedTuple):
    """The alert behind a panel; which parameter it draws, and which way, is the alert's."""

    alert: str

    @property
    def above(self) -> bool:
        return not BY_NAME[self.alert].fires_below

    @property
    def key(self) -> str:
        return BY_NAME[self.alert].bound_key


def alert_values(thresholds: dict[str, Any], bound: Bound) -> list[tuple[str, float]]:
    """(colour, value) per level of an enabled alert, in the panel's unit."""
    entry = thresholds["alerts"][bound.alert]
    if entry.get("enabled", True) is False:
        return []
    found = list(levels(entry))
    out = []
    for severity, params in found:
        raw = params[bound.key]
        value = float(duration_seconds(raw)) if isinstance(raw, str) else float(raw)
        out.append(("orange" if severity == "warning" and len(found) > 1 else "red", value))
    return out


def steps(thresholds: dict[str, Any], *bounds: Bound) -> dict[str, Any] | None:
    """Grafana threshold steps for these alerts, or None if none of them draws one."""
    below: list[tuple[float, str]] = []
    above: list[tuple[float, str]] = []
    for bound in bounds:
        for colour, value in alert_values(thresholds, bound):
            if bound.above and value > 0:
                above.append((value, colour))
            elif not bound.above:
                below.append((value, colour))
    if not below and not above:
        return None
    below.sort()
    above.sort()
    # Below-alerts: the colour of the lowest bound down to -inf, green from the highest up.
    result: list[dict[str, Any]] = [{"color": below[0][1] if below else "green", "value": None}]
    for index, (value, _) in enumerate(below):
        following = below[index + 1][1] if index + 1 < len(below) else "green"
        result.append({"color": following, "value": value})
    result += [{"color": colour, "value": value} for value, colour in above]
    return {"mode": "absolute", "steps": result}


def runbook_links(thresholds: dict[str, Any], *bounds: Bound) -> list[dict[str, Any]]:
    """A data link to each enabled alert's runbook section."""
    url = thresholds["runbook_url"]
    return [
        {
            "title": f"{LINK_PREFIX}{bound.alert}",
            "url": f"{url}#{bound.alert.lower()}",
            "targetBlank": True,
        }
        for bound in bounds
        if thresholds["alerts"][bound.alert].get("enabled", True) is not False
    ]


def drawn(thresholds: dict[str, Any], *bounds: Bound) -> str:
    """The field description naming the alerts whose thresholds colour the field."""
    names = [bound.alert for bound in bounds if steps(thresholds, bound) is not None]
    return f"{DRAWN_PREFIX}{', '.join(names)}." if names else ""


def alerting(thresholds: dict[str, Any], *bounds: Bound) -> dict[str, Any]:
    """Keyword arguments `steps`, `links` and `note` for a panel or column builder."""
    return {
        "steps": steps(thresholds, *bounds),
        "links": runbook_links(thresholds, *bounds),
        "note": drawn(thresholds, *bounds),
    }
