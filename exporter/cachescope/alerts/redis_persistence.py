"""Redis alerts on persistence: failed RDB saves and AOF writes, snapshots too old."""

from __future__ import annotations

from cachescope.alerts.model import AlertDef
from cachescope.analyze.checks import Params, seconds
from cachescope.analyze.figures import Figures

GROUP = "cachescope.redis.persistence"


def _rdb_failed(f: Figures, p: Params) -> str | None:
    return "the last RDB background save failed" if f.rdb_ok is False else None


def _aof_write(f: Figures, p: Params) -> str | None:
    return "the last AOF write failed" if f.aof_write_ok is False else None


def _aof_rewrite(f: Figures, p: Params) -> str | None:
    return "the last AOF rewrite failed" if f.aof_rewrite_ok is False else None


def _rdb_old(f: Figures, p: Params) -> str | None:
    age = f.last_save_age
    if age is None or not f.rdb_saves or not f.changes_since_save:
        return None
    if age <= seconds(p, "threshold"):
        return None
    return f"last snapshot {age / 3600:.1f} h ago with {f.changes_since_save:.0f} changes since"


ALERTS = (
    AlertDef(
        name="RedisRdbSaveFailed",
        expr="redis_rdb_last_bgsave_status{@{selector}} == 0",
        summary="The last Redis RDB save failed.",
        description=(
            "The last background save of Redis {{ $labels.instance }} failed; with"
            " stop-writes-on-bgsave-error (the default) it refuses writes."
        ),
        category="persistence",
        action=(
            "fix disk space or permissions, or fork memory (vm.overcommit_memory=1); then BGSAVE; "
            'for a cache that needs no snapshot, save ""'
        ),
        check=_rdb_failed,
    ),
    AlertDef(
        name="RedisAofWriteFailed",
        expr="redis_aof_last_write_status{@{selector}} == 0",
        summary="The last Redis AOF write failed.",
        description=(
            "Redis {{ $labels.instance }} could not write its append-only file; writes since"
            " are not durable and may be refused."
        ),
        category="persistence",
        action="free disk space or fix the disk, then check aof_last_write_status:ok",
        check=_aof_write,
    ),
    AlertDef(
        name="RedisAofRewriteFailed",
        expr="redis_aof_last_bgrewrite_status{@{selector}} == 0",
        summary="The last Redis AOF rewrite failed.",
        description=(
            "The last AOF rewrite of Redis {{ $labels.instance }} failed; the append-only"
            " file keeps growing."
        ),
        category="persistence",
        action="fix disk space or fork memory, then BGREWRITEAOF",
        check=_aof_rewrite,
    ),
    AlertDef(
        name="RedisRdbSaveTooOld",
        expr=(
            "time() - redis_rdb_last_save_timestamp_seconds{@{selector}}"
            " > @{threshold|seconds}\n"
            "and on (job, instance) redis_rdb_changes_since_last_save{@{selector}} > 0\n"
            "and on (job, instance) redis_rdb_saves_total{@{selector}} > 0"
        ),
        summary="Redis has not saved a snapshot for a long time.",
        description=(
            "Redis {{ $labels.instance }} last saved {{ $value | humanizeDuration }} ago"
            " although it saves snapshots and has changes (threshold @{threshold})."
        ),
        category="persistence",
        action="restore the save rules (e.g. save 3600 1 300 100 60 10000) or BGSAVE from cron",
        check=_rdb_old,
    ),
)
