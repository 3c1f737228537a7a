"""The record of one alert: every fact about it but its numbers, which are in thresholds.yml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cachescope.analyze.checks import Check
from cachescope.rules.model import Alert

# One markdown file per alert, named after it: the body of its docs/runbooks.md section.
RUNBOOKS = Path(__file__).resolve().parent / "runbooks"
CATEGORIES = (
    "availability",
    "memory",
    "efficiency",
    "keys",
    "connections",
    "latency",
    "replication",
    "persistence",
    "cluster",
    "sentinel",
    "search",
)


@dataclass(frozen=True, slots=True)
class AlertDef:
    """One alert: its PromQL and texts, its analyze check (or why it has none), its action.

    Templates use `@{param}` placeholders filled from the alert's entry in
    rules/thresholds.yml (see rules/model.py). The runbook section is runbooks/<name>.md.
    """

    name: str
    expr: str
    summary: str
    description: str
    category: str
    action: str  # one line for `cachescope analyze`, from the runbook's "What to do"
    check: Check | None = None  # the same condition on one sample of the target
    unjudged: str = ""  # why analyze cannot judge it from one sample, when check is None
    # What a dashboard panel showing the alerted number draws: the parameter (in the panel's
    # unit) and whether the alert fires below it, so the panel colours where the alert fires.
    bound_key: str = "threshold"
    fires_below: bool = False

    @property
    def rule(self) -> Alert:
        """The rule template that rules/render.py fills from the thresholds."""
        return Alert(self.name, self.expr, self.summary, self.description)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The target kinds analyze judges it on: its name's prefix says which."""
        if self.name.startswith("Redis"):
            return ("redis",)
        if self.name.startswith("Memcached"):
            return ("memcached",)
        return ("redis", "memcached")

    def runbook(self) -> str:
        """The markdown body of its runbook section."""
        return (RUNBOOKS / f"{self.name}.md").read_text(encoding="utf-8")
