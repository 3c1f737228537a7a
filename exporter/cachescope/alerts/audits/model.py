"""The record of one configuration check, and what it reads and says.

A check reads a target's settings (CONFIG GET, or Memcached's `stats settings`) with the
figures of the same analyze sample, and says which setting will hurt this instance,
with the figures that show it and the exact line that fixes it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cachescope.analyze.figures import Figures

# Audit findings stop short of critical: exit code 2 keeps meaning "it hurts now".
AUDIT_PRIORITIES = ("high", "medium", "low")
# A fix is what the user types, exactly: a command the server accepts as printed, or the
# config-file (or command-line) line where no command can change the setting. Never a
# remark: redis-cli would send a "# ..." as arguments. Where two commands are needed they
# are joined by this separator, each part exact; alternatives go in the issue text.
FIX_SEPARATOR = "; "
Evidence = Mapping[str, str | float | int | bool | None]


@dataclass(frozen=True, slots=True)
class Settings:
    """What one target is configured to do, read once per analyze run."""

    kind: str  # "redis" or "memcached"
    config: Mapping[str, str]  # CONFIG GET name -> value; Memcached: `stats settings`
    info: Mapping[str, str]  # INFO (Redis) or `stats` (Memcached) fields of the same read
    unread: str = ""  # why CONFIG could not be read ("" when it was)
    # Redis ACL: the connected user, and whether it may run each dangerous command.
    acl_user: str | None = None
    acl_allowed: Mapping[str, bool] = field(default_factory=dict)
    # Whether the read sent AUTH (a server that answered without it lets anyone in), and
    # the ACL users it lists (ACL USERS; empty where refused or before Redis 6).
    authenticated: bool = False
    acl_users: tuple[str, ...] = ()
    # The biggest sampled keys' memory in bytes (RANDOMKEY + MEMORY USAGE), largest first.
    big_keys: tuple[int, ...] = ()
    # Memcached: per slab class, (chunk size, evictions since start, used chunks).
    slabs: tuple[tuple[int, float, float], ...] = ()
    # What beyond CONFIG could not be read, and why: a source (see AuditDef.reads) -> reason.
    unread_data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditIssue:
    """What a check found on one instance: why it matters here, the figures, the fix."""

    issue: str
    evidence: Evidence
    fix: str
    priority: str = "low"

    def __post_init__(self) -> None:
        if self.priority not in AUDIT_PRIORITIES:
            raise ValueError(f"audit priority {self.priority!r} not in {AUDIT_PRIORITIES}")


Check = Callable[[Settings, Figures], AuditIssue | None]


def number(fields: Mapping[str, str], name: str) -> float:
    """A numeric setting or INFO field; 0 when absent or not a number."""
    try:
        return float(fields.get(name, "0"))
    except ValueError:
        return 0.0


@dataclass(frozen=True, slots=True)
class AuditDef:
    """One configuration check: its name, area, why it matters, and the check itself."""

    name: str  # kebab-case, the `check` label of cachescope_config_finding
    kind: str  # "redis" or "memcached"
    category: str  # one of alerts.model.CATEGORIES, or "security"
    rationale: str  # why the practice says so, in a sentence or two
    needs: tuple[str, ...]  # CONFIG names it reads: without them it cannot run
    check: Check
    action: str  # one line: what to do, for the table and `action` in JSON
    # What else it reads ("acl", "acl_users", "big_keys", "slabs"): if one could not be
    # read the check is reported as not run, never as checked with nothing found.
    reads: tuple[str, ...] = ()


def config_set(info: Mapping[str, str], pairs: list[tuple[str, str]]) -> str:
    """One CONFIG SET of several names on Redis 7+, else one command per name."""
    major = info.get("redis_version", "0").split(".")[0]
    if major.isdigit() and int(major) >= 7:
        return "CONFIG SET " + " ".join(f"{name} {value}" for name, value in pairs)
    return FIX_SEPARATOR.join(f"CONFIG SET {name} {value}" for name, value in pairs)
