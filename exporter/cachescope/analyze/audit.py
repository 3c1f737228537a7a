"""Run the configuration audit on one target: its settings, the sample's figures, the checks."""

from __future__ import annotations

from typing import Any

from cachescope.alerts.audits import ALL, needs
from cachescope.alerts.audits.model import AuditDef, Settings
from cachescope.analyze.figures import Figures
from cachescope.analyze.settings import read_settings
from cachescope.config.records import TargetConfig
from cachescope.errors import ScrapeError

Recommendation = dict[str, Any]


def audit(target: TargetConfig, figures: Figures) -> tuple[list[Recommendation], dict[str, Any]]:
    """The audit's recommendations, and which checks ran and which could not, and why."""
    kind = target.endpoint.kind
    try:
        settings = read_settings(target, needs(kind))
    except ScrapeError as exc:
        reason = f"settings could not be read: {exc.kind}: {exc.message}"
        return [], {"checked": [], "notRun": [_not_run(a, reason) for a in _of(kind)]}
    return evaluate(settings, figures)


def evaluate(settings: Settings, figures: Figures) -> tuple[list[Recommendation], dict[str, Any]]:
    """Pure: each check of the target's kind on its settings and figures."""
    found: list[Recommendation] = []
    checked: list[str] = []
    not_run: list[dict[str, str]] = []
    for audit_def in _of(settings.kind):
        missing = [name for name in audit_def.needs if name not in settings.config]
        if missing:
            reason = settings.unread or f"the server did not answer {', '.join(missing)}"
            not_run.append(_not_run(audit_def, reason))
            continue
        unread = [
            settings.unread_data[src] for src in audit_def.reads if src in settings.unread_data
        ]
        if unread:  # judged blind, silence would read as a clean bill of health
            not_run.append(_not_run(audit_def, "; ".join(unread)))
            continue
        checked.append(audit_def.name)
        issue = audit_def.check(settings, figures)
        if issue is None:
            continue
        found.append(
            {
                "category": audit_def.category,
                "issue": issue.issue,
                "action": audit_def.action,
                "priority": issue.priority,
                "check": audit_def.name,
                "evidence": dict(issue.evidence),
                "fix": issue.fix,
            }
        )
    return found, {"checked": checked, "notRun": not_run}


def _of(kind: str) -> list[AuditDef]:
    return [audit_def for audit_def in ALL if audit_def.kind == kind]


def _not_run(audit_def: AuditDef, reason: str) -> dict[str, str]:
    return {"check": audit_def.name, "reason": reason}
