"""Who may connect and what they may run, as this instance is configured.

The checks judge the user `cachescope analyze` authenticates as: point it at the
application's credentials to judge the application's user. The exporter's own user
needs CONFIG GET, so CONFIG GET is never a finding; CONFIG SET is.
"""

from __future__ import annotations

from cachescope.alerts.audits.model import AuditDef, AuditIssue, Settings, config_set
from cachescope.analyze.figures import Figures

# Addresses that only the host itself reaches: an open door there is a local risk.
LOOPBACK = ("127.", "::1", "-::1", "localhost")
# The password the fix sets: a placeholder the server accepts, which the issue text asks
# the user to replace (a generated one would put a secret in every report and log).
PASSWORD_PLACEHOLDER = "CHANGE-ME"
# Commands an application's user never needs: each can wipe, stall or reconfigure the
# server (DEBUG SLEEP, KEYS on a big keyspace, CONFIG SET requirepass "").
DANGEROUS = ("FLUSHALL", "FLUSHDB", "KEYS", "DEBUG", "CONFIG SET", "SHUTDOWN")


def loopback_only(bind: str) -> bool:
    """Whether every bind address is a loopback one (an empty bind listens everywhere)."""
    addresses = bind.split()
    return bool(addresses) and all(a.startswith(LOOPBACK) for a in addresses)


def _open_without_auth(s: Settings, f: Figures) -> AuditIssue | None:
    if s.info.get("redis_mode") == "sentinel" or s.config.get("protected-mode") != "no":
        return None
    others = [user for user in s.acl_users if user != "default"]
    # Connected without AUTH as the default user: anyone reaching the port gets in.
    if s.authenticated or others or s.acl_user not in (None, "default"):
        return None
    bind = s.config.get("bind", "")
    local = loopback_only(bind)
    reach = "any process on this host" if local else "anyone who can reach the port"
    return AuditIssue(
        issue=(
            f"no password, no ACL user beyond default, and protected-mode no with bind "
            f"'{bind or '(all interfaces)'}': {reach} can read, write and reconfigure this "
            f"instance (the fix sets the password {PASSWORD_PLACEHOLDER}: put a long random "
            "one in its place, or give the application an ACL user)"
        ),
        evidence={
            "protected-mode": "no",
            "bind": bind,
            "acl_users": ", ".join(s.acl_users) or None,
            "authenticated": False,
        },
        fix=config_set(s.info, [("requirepass", PASSWORD_PLACEHOLDER), ("protected-mode", "yes")]),
        priority="low" if local else "medium",
    )


def _dangerous_commands(s: Settings, f: Figures) -> AuditIssue | None:
    user = s.acl_user
    if user is None or user == "default":
        return None  # ACLs not in use (an unreadable ACL is reported as not run)
    allowed = [name for name in DANGEROUS if s.acl_allowed.get(name)]
    if not allowed:
        return None
    removals = " ".join(f"-{name.lower().replace(' ', '|')}" for name in allowed)
    return AuditIssue(
        issue=(
            f"ACL user {user}, which this analysis authenticated as, may run "
            f"{', '.join(allowed)}: one mistaken or injected command wipes or stalls the "
            "instance"
        ),
        evidence={"user": user, "allowed": ", ".join(allowed)},
        fix=f"ACL SETUSER {user} {removals}",
        priority="medium",
    )


AUDITS = (
    AuditDef(
        name="open-without-auth",
        kind="redis",
        category="security",
        rationale=(
            "Protected mode is Redis's last guard for a server with no password; turned off, "
            "whoever reaches the port owns the data and can CONFIG SET its way onto the host."
        ),
        needs=("protected-mode", "bind"),
        check=_open_without_auth,
        reads=("acl_users",),
        action="require a password (an ACL user or requirepass) and turn protected-mode back on",
    ),
    AuditDef(
        name="dangerous-commands-allowed",
        kind="redis",
        category="security",
        rationale=(
            "An application's user needs its data commands, not FLUSHALL, KEYS, DEBUG or "
            "CONFIG SET; ACLs in use should take them away (the exporter needs CONFIG GET only)."
        ),
        needs=(),  # reads ACL DRYRUN, not CONFIG
        check=_dangerous_commands,
        reads=("acl",),
        action="remove FLUSHALL, FLUSHDB, KEYS, DEBUG, CONFIG SET and SHUTDOWN from the user",
    ),
)
