"""Read what a target is configured to do, for the configuration audit (one connection).

Redis: INFO, then CONFIG GET of the names the checks need (never `*`: that would read
requirepass and masterauth), the ACL facts the security checks need, and the memory of a
few random keys (RANDOMKEY + MEMORY USAGE: key names are not kept, values never read).
Memcached: `stats`, `stats settings`, `stats slabs` and `stats items`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from cachescope.alerts.audits.model import Settings
from cachescope.config.records import TargetConfig
from cachescope.errors import ScrapeError
from cachescope.memcached.client import MemcachedConnection
from cachescope.memcached.parse import split_items, split_slabs
from cachescope.redis.client import RedisConnection, ReplyError
from cachescope.redis.parse import as_text, parse_info

# Commands whose availability to the application's user the security check reports, each
# with arguments ACL DRYRUN accepts (it checks arity: a bare KEYS or CONFIG is an error, not
# a refusal). CONFIG SET, not CONFIG: the exporter's own user needs CONFIG GET.
DANGEROUS: dict[str, tuple[str, ...]] = {
    "FLUSHALL": ("FLUSHALL",),
    "FLUSHDB": ("FLUSHDB",),
    "KEYS": ("KEYS", "*"),
    "DEBUG": ("DEBUG", "SLEEP", "0"),
    "CONFIG SET": ("CONFIG", "SET", "maxmemory", "0"),
    "SHUTDOWN": ("SHUTDOWN",),
}
# Random keys whose memory is read to see whether big keys exist (one round trip each way).
RANDOM_KEYS = 32


def read_settings(target: TargetConfig, names: Iterable[str]) -> Settings:
    """The target's settings, or what could not be read and why; raise ScrapeError if down."""
    deadline = time.monotonic() + target.timeout
    if target.endpoint.kind == "memcached":
        return _memcached(target, deadline)
    connection = RedisConnection(target)
    try:
        return _redis(connection, target, sorted(set(names)), deadline)
    finally:
        connection.close()


def _redis(
    connection: RedisConnection, target: TargetConfig, names: list[str], deadline: float
) -> Settings:
    info = parse_info(_ok(connection.execute([("INFO", "ALL")], deadline)[0]))
    config, unread = _config(connection, target, names, info, deadline)
    user, allowed, acl_unread = _acl(connection, info, deadline)
    authenticated = target.credentials.password is not None
    users, users_unread = _acl_users(connection, info, deadline)
    big_keys, keys_unread = _big_keys(connection, info, deadline)
    unread_data = {"acl": acl_unread, "big_keys": keys_unread}
    # Who else may log in matters only to a connection that did not authenticate.
    unread_data["acl_users"] = "" if authenticated else users_unread
    return Settings(
        "redis",
        config,
        info,
        unread,
        acl_user=user,
        acl_allowed=allowed,
        big_keys=big_keys,
        authenticated=authenticated,
        acl_users=users,
        unread_data={source: why for source, why in unread_data.items() if why},
    )


def _config(
    connection: RedisConnection,
    target: TargetConfig,
    names: list[str],
    info: dict[str, str],
    deadline: float,
) -> tuple[dict[str, str], str]:
    command = target.config_command
    if not command:
        return {}, "CONFIG is turned off for this target (config_command)"
    if info.get("redis_mode") == "sentinel":
        return {}, "a sentinel has no CONFIG GET of a server's settings"
    if _version(info) >= (7,):  # one call with every name
        calls: list[tuple[str, ...]] = [(command, "GET", *names)]
    else:
        calls = [(command, "GET", name) for name in names]
    config: dict[str, str] = {}
    for reply in connection.execute(calls, deadline):
        if isinstance(reply, ReplyError):
            return {}, f"CONFIG GET refused: {reply}"
        config |= _pairs(reply)
    return config, ""


def _acl(
    connection: RedisConnection, info: dict[str, str], deadline: float
) -> tuple[str | None, dict[str, bool], str]:
    """The connected user, which dangerous commands it may run (ACL DRYRUN), and why not known."""
    if _version(info) < (6,) or info.get("redis_mode") == "sentinel":
        return None, {}, ""  # no ACLs: every connection is the one default user
    whoami = connection.execute([("ACL", "WHOAMI")], deadline)[0]
    if isinstance(whoami, ReplyError):
        return None, {}, f"ACL WHOAMI refused: {whoami}"
    user = as_text(whoami)
    if _version(info) < (7,):
        unknown = "" if user == "default" else "ACL DRYRUN needs Redis 7"
        return user, {}, unknown
    calls = [("ACL", "DRYRUN", user, *argv) for argv in DANGEROUS.values()]
    replies = connection.execute(calls, deadline)
    refused = next((r for r in replies if isinstance(r, ReplyError)), None)
    if refused is not None:
        return user, {}, f"ACL DRYRUN refused: {refused}"
    # DRYRUN answers OK, or a bulk string saying why the user may not run it.
    allowed = {name: as_text(r) == "OK" for name, r in zip(DANGEROUS, replies, strict=True)}
    return user, allowed, ""


def _acl_users(
    connection: RedisConnection, info: dict[str, str], deadline: float
) -> tuple[tuple[str, ...], str]:
    """The ACL users the server lists (Redis 6+), and why they are not known."""
    if _version(info) < (6,) or info.get("redis_mode") == "sentinel":
        return (), ""
    reply = connection.execute([("ACL", "USERS")], deadline)[0]
    if not isinstance(reply, list):
        return (), f"ACL USERS refused: {reply}"
    return tuple(sorted(as_text(name) for name in reply)), ""


def _big_keys(
    connection: RedisConnection, info: dict[str, str], deadline: float
) -> tuple[tuple[int, ...], str]:
    """The memory of up to RANDOM_KEYS random keys of db0, largest first, and why not known."""
    if info.get("redis_mode") == "sentinel" or "db0" not in info:
        return (), ""
    keys = connection.execute([("RANDOMKEY",)] * RANDOM_KEYS, deadline)
    refused = next((k for k in keys if isinstance(k, ReplyError)), None)
    if refused is not None:
        return (), f"RANDOMKEY refused: {refused}"
    names = sorted({key for key in keys if isinstance(key, bytes)})
    if not names:
        return (), ""
    sizes = connection.execute(
        [("MEMORY", "USAGE", key, "SAMPLES", "0") for key in names], deadline
    )
    refused = next((s for s in sizes if isinstance(s, ReplyError)), None)
    if refused is not None:
        return (), f"MEMORY USAGE refused: {refused}"
    return tuple(sorted((s for s in sizes if isinstance(s, int)), reverse=True)), ""


def _memcached(target: TargetConfig, deadline: float) -> Settings:
    connection = MemcachedConnection(target)
    try:
        commands = ["stats", "stats settings", "stats slabs", "stats items"]
        replies = connection.execute(commands, deadline)
    finally:
        connection.close()
    stats, settings, slab_stats, item_stats = (r if isinstance(r, dict) else {} for r in replies)
    if not stats:
        raise ScrapeError("command", f"stats failed: {replies[0]}")
    # An empty `stats items` is a server with no items; a reply that is no dict, a refusal.
    failed = [c for c, r in zip(commands[2:], replies[2:], strict=True) if not isinstance(r, dict)]
    slabs_unread = f"{' and '.join(failed)} refused" if failed else ""
    per_slab = split_slabs(slab_stats).per_slab
    items = split_items(item_stats)
    slabs = tuple(
        (
            int(fields.get("chunk_size", "0")),
            float(items.get(slab, {}).get("evicted", "0")),
            float(fields.get("used_chunks", "0")),
        )
        for slab, fields in sorted(per_slab.items(), key=lambda pair: int(pair[0]))
    )
    unread = "" if settings else "stats settings refused"
    unread_data = {"slabs": slabs_unread} if slabs_unread else {}
    return Settings("memcached", settings, stats, unread, slabs=slabs, unread_data=unread_data)


def _ok(reply: Any) -> Any:
    if isinstance(reply, ReplyError):
        raise ScrapeError("command", str(reply))
    return reply


def _pairs(reply: Any) -> dict[str, str]:
    """CONFIG GET's flat [name, value, ...] reply as a dict."""
    if not isinstance(reply, list):
        return {}
    texts = [as_text(item) for item in reply]
    return dict(zip(texts[0::2], texts[1::2], strict=False))


def _version(info: dict[str, str]) -> tuple[int, ...]:
    text = info.get("redis_version", "0")
    return tuple(int(part) for part in text.split(".") if part.isdigit())
