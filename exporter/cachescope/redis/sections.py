"""Turn parsed INFO fields into metric families (pure: no I/O)."""

from __future__ import annotations

from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import (
    COUNTER,
    GAUGE,
    About,
    format_value,
    number_text,
    unnamed,
)
from cachescope.redis.commandstats import add_command_stats
from cachescope.redis.fields import FIELDS, SKIPPED, STATUS_FIELDS
from cachescope.redis.identity import add_identity, add_module
from cachescope.redis.parse import parse_info, parse_kv, to_float
from cachescope.redis.replication import (
    MASTER_FIELDS,
    add_master_field,
    add_other_masters,
    add_replica,
    is_numbered_master,
)
from cachescope.textcache import TextCache

# Dragonfly writes -1 for statistics it does not keep: absent, not a value.
_NOT_TRACKED = {"instantaneous_input_kbps", "instantaneous_output_kbps"}
# Error kinds reported at 0 until INFO errorstats lists them. Redis adds an
# `errorstat_<KIND>` line only at the first such error, so without a 0 the series
# would be born at 1 and `increase()` could never see the first OOM or BUSY. Absent
# really means zero since the last restart or CONFIG RESETSTAT.
KNOWN_ERRORS = (
    "OOM", "BUSY", "LOADING", "CLUSTERDOWN", "MOVED", "ASK", "READONLY",
    "NOSCRIPT", "MASTERDOWN", "NOREPLICAS", "MISCONF", "NOAUTH", "WRONGPASS", "NOPERM",
)  # fmt: skip
_ERRORS_HELP = "Error replies by error prefix."
_ERR_LABELS = {kind: (("err", kind),) for kind in KNOWN_ERRORS}


# The family of each named field, and the divisor to its base unit.
_FIELDS: dict[str, tuple[About, float]] = {
    key: (About(name, type_, help_), divisor)
    for key, (name, type_, help_, divisor) in FIELDS.items()
}


def _classify(key: str) -> str:
    """What kind of INFO field a key is; the answer is cached, as keys repeat every scrape."""
    if key in STATUS_FIELDS:
        return "status"
    if key in FIELDS:
        return "field"
    for prefix, kind in (
        ("cmdstat_", "cmdstat"),
        ("errorstat_", "errorstat"),
        ("latency_percentiles_usec_", "latency"),
    ):
        if key.startswith(prefix):
            return kind
    if _is_indexed(key, "db"):
        return "keyspace"  # returned, for add_keyspace
    if _is_indexed(key, "slave"):
        return "replica"
    if key == "master_link_status" or key in MASTER_FIELDS:
        return "master"
    if key == "module" or key.startswith("module#"):
        return "module"
    if is_numbered_master(key) or "#" in key:
        return "skip"  # further primaries: add_other_masters; other repeats have no name
    if key in SKIPPED or key.endswith("_human"):
        return "skip"
    return "generic"


# What each INFO key is, by its name: names come from servers, so bounded.
_KINDS: TextCache[str, str] = TextCache(10_000, 2 << 20)
Databases = list[tuple[str, str]]  # keyspace lines: ('db0', 'keys=1,expires=0,avg_ttl=0')


def add_info(metrics: MetricSet, fields: dict[str, str], now: float) -> Databases:
    """Add every INFO field we understand, and the numeric ones we don't, as untyped.

    The keyspace lines are returned for `add_keyspace`, which needs the number of
    databases from CONFIG as well: so the fields are read once.
    """
    master = (
        ("master_host", fields.get("master_host", "")),
        ("master_port", fields.get("master_port", "")),
    )
    commands: list[tuple[str, str]] = []
    latencies: list[tuple[str, str]] = []
    databases: Databases = []
    errors: set[str] = set()
    plain: list[tuple[About, str]] = []  # fields whose text goes out as the server wrote it
    kinds = _KINDS
    add = metrics.add
    for key, value in fields.items():
        kind = kinds.get(key)
        if kind is None:
            kind = kinds.remember(key, _classify(key), len(key))
        if kind == "field":
            about, divisor = _FIELDS[key]
            if divisor == 1.0 and value.isascii() and value.replace(".", "", 1).isdecimal():
                plain.append((about, value))  # most fields: a number Prometheus reads as it is
            else:
                _add_field(metrics, key, value, about, divisor)
        elif kind == "skip":
            continue
        elif kind == "keyspace":
            databases.append((key, value))
        elif kind == "cmdstat":
            commands.append((key[8:], value))
        elif kind == "latency":
            latencies.append((key[25:], value))
        elif kind == "errorstat":
            count = to_float(parse_kv(value).get("count", ""))
            if count is not None:
                errors.add(key[10:])
                add("redis_errors_total", COUNTER, _ERRORS_HELP, count, (("err", key[10:]),))
        elif kind == "generic":
            number = to_float(value)
            if number is not None:
                name, type_, help_ = unnamed("redis_", key, "INFO field")
                add(name, type_, help_, number)
        elif kind == "status":  # 'ok' or 'err'
            text = value if value.isdecimal() and value.isascii() else "1" if value == "ok" else "0"
            plain.append((_FIELDS[key][0], text))
        elif kind == "replica":
            add_replica(metrics, parse_kv(value), to_float(fields.get("master_repl_offset", "")))
        elif kind == "master":
            add_master_field(metrics, key, value, master)
        elif kind == "module":
            add_module(metrics, parse_kv(value))
    metrics.add_numbers(plain)
    if errors or "total_error_replies" in fields:
        _add_unseen_errors(metrics, errors)
    add_command_stats(metrics, commands, latencies)
    add_other_masters(metrics, fields)
    add_identity(metrics, fields, now)
    return databases


def merge_module_fields(fields: dict[str, str], reply: object) -> None:
    """Add the fields of modules' own sections (an INFO MODULES reply) to INFO ALL's.

    Its `module` lines are INFO ALL's again, and a field INFO ALL has keeps INFO ALL's
    value (Dragonfly writes its search_* fields there already).
    """
    if not isinstance(reply, bytes):
        return
    for key, value in parse_info(reply).items():
        if key != "module" and not key.startswith("module#"):
            fields.setdefault(key, value)


def _add_unseen_errors(metrics: MetricSet, seen: set[str]) -> None:
    """The known error kinds INFO errorstats has not listed yet, at 0.

    Only where the server keeps errorstats (Redis 6.2+: `total_error_replies` came with
    it), so an older server does not claim a count it never kept.
    """
    unseen = [labels for kind, labels in _ERR_LABELS.items() if kind not in seen]
    metrics.family("redis_errors_total", COUNTER, _ERRORS_HELP).add_each("0", unseen)


def _add_field(metrics: MetricSet, key: str, value: str, about: About, divisor: float) -> None:
    """A named field whose text is not a plain number: to scale, negative, or not a number."""
    name, type_, help_ = about
    number = to_float(value)
    if number is None or (number < 0 and (type_ == COUNTER or key in _NOT_TRACKED)):
        return  # text, or a server's "not tracked" (Dragonfly's -1)
    metrics.add(name, type_, help_, number / divisor if divisor != 1.0 else number)


def _is_indexed(key: str, prefix: str) -> bool:
    return key.startswith(prefix) and key[len(prefix) :].isdecimal()


def add_config(
    metrics: MetricSet, config: dict[str, str], fields: dict[str, str], names: tuple[str, ...]
) -> None:
    """redis_config_*; where CONFIG is refused, INFO still knows maxmemory and maxclients."""
    for name in names:
        value = to_float(config.get(name, "")) if name in config else to_float(fields.get(name, ""))
        if value is not None:
            metric = "redis_config_" + name.replace("-", "_")
            metrics.add(metric, GAUGE, f"The {name} setting.", value)


def add_keyspace(metrics: MetricSet, databases: Databases, db_count: int) -> None:
    """Keys, keys with an expiry and average TTL per database (empty databases as 0)."""
    keys = metrics.family("redis_db_keys", GAUGE, "Keys in the database.")
    expiring = metrics.family(
        "redis_db_keys_expiring", GAUGE, "Keys with an expiry in the database."
    )
    avg_ttl = metrics.family("redis_db_avg_ttl_seconds", GAUGE, "Average TTL of expiring keys.")
    seen = set()
    for key, value in databases:
        stats = parse_kv(value)
        count, expires = number_text(stats.get("keys", "")), number_text(stats.get("expires", ""))
        if count is None or expires is None:
            continue
        seen.add(key)
        labels = metrics.labels((("db", key),))
        keys.add_text(count, labels)
        expiring.add_text(expires, labels)
        ttl = to_float(stats.get("avg_ttl", ""))
        if ttl is not None and ttl >= 0:  # Dragonfly's -1: not computed
            avg_ttl.add_text(format_value(ttl / 1000.0), labels)
    for index in range(db_count):
        db = f"db{index}"
        if db not in seen:
            labels = metrics.labels((("db", db),))
            keys.add_text("0", labels)
            expiring.add_text("0", labels)
