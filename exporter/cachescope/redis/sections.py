"""Turn parsed INFO fields into metric families (pure: no I/O)."""

from __future__ import annotations

from cachescope.exposition import (
    COUNTER,
    GAUGE,
    UNTYPED,
    About,
    MetricSet,
    format_value,
    metric_name,
    number_text,
)
from cachescope.redis.commandstats import add_command_stats
from cachescope.redis.fields import FIELDS, SKIPPED, STATUS_FIELDS
from cachescope.redis.parse import parse_kv, to_float

_INSTANCE_LABELS = (
    "role",
    "redis_version",
    "redis_build_id",
    "redis_mode",
    "os",
    "maxmemory_policy",
    "tcp_port",
    "run_id",
    "process_id",
    "master_replid",
)
# Present only on some servers (Valkey, KeyDB, Dragonfly, managed services);
# added to redis_instance_info where they exist, so Redis' label set stays as it was.
_OPTIONAL_INSTANCE_LABELS = (
    "server_name",
    "valkey_version",
    "valkey_release_stage",
    "keydb_version",
    "dragonfly_version",
    "availability_zone",
)
# Labels of redis_module_info, as redis_exporter names them.
_MODULE_LABELS = ("name", "ver", "api", "filters", "usedby", "using")
# Dragonfly writes -1 for statistics it does not keep: absent, not a value.
_NOT_TRACKED = {"instantaneous_input_kbps", "instantaneous_output_kbps"}
_MASTER_FIELDS = {
    "master_last_io_seconds_ago": (
        "redis_master_last_io_seconds_ago",
        "Seconds since the last interaction with the primary.",
    ),
    "master_sync_in_progress": (
        "redis_master_sync_in_progress",
        "Whether the replica is syncing from its primary.",
    ),
    "slave_repl_offset": ("redis_slave_repl_offset", "Replication offset of this replica."),
}


# The family of each named field, and the divisor to its base unit.
_FIELDS: dict[str, tuple[About, float]] = {
    key: ((name, type_, help_), divisor) for key, (name, type_, help_, divisor) in FIELDS.items()
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
    if key == "master_link_status" or key in _MASTER_FIELDS:
        return key
    if key == "module" or key.startswith("module#"):
        return "module"
    if _is_numbered_master(key) or "#" in key:
        return "skip"  # further primaries: _add_other_masters; other repeats have no name
    if key in SKIPPED or key.endswith("_human"):
        return "skip"
    return "generic"


_KINDS: dict[str, str] = {}
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
    plain: list[tuple[About, str]] = []  # fields whose text goes out as the server wrote it
    kinds = _KINDS
    if len(kinds) > 10_000:  # keys come from servers: keep the cache bounded
        kinds.clear()
    add = metrics.add
    for key, value in fields.items():
        kind = kinds.get(key)
        if kind is None:
            kind = kinds[key] = _classify(key)
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
                add(
                    "redis_errors_total",
                    COUNTER,
                    "Error replies by error prefix.",
                    count,
                    (("err", key[10:]),),
                )
        elif kind == "generic":
            number = to_float(value)
            if number is not None:
                name, type_, help_ = _unnamed(key)
                add(name, type_, help_, number)
        elif kind == "status":  # 'ok' or 'err'
            text = value if value.isdecimal() and value.isascii() else "1" if value == "ok" else "0"
            plain.append((_FIELDS[key][0], text))
        elif kind == "replica":
            _add_replica(metrics, parse_kv(value), to_float(fields.get("master_repl_offset", "")))
        elif kind == "master_link_status":
            add(
                "redis_master_link_up",
                GAUGE,
                "Whether the link to the primary is up.",
                1.0 if value == "up" else 0.0,
                master,
            )
        elif kind in _MASTER_FIELDS:
            name, help_ = _MASTER_FIELDS[kind]
            add(name, GAUGE, help_, to_float(value) or 0.0, master)
        elif kind == "module":
            _add_module(metrics, parse_kv(value))
    metrics.add_texts(plain)
    add_command_stats(metrics, commands, latencies)
    _add_other_masters(metrics, fields)
    _add_identity(metrics, fields, now)
    return databases


def _add_field(metrics: MetricSet, key: str, value: str, about: About, divisor: float) -> None:
    """A named field whose text is not a plain number: to scale, negative, or not a number."""
    name, type_, help_ = about
    number = to_float(value)
    if number is None or (number < 0 and (type_ == COUNTER or key in _NOT_TRACKED)):
        return  # text, or a server's "not tracked" (Dragonfly's -1)
    metrics.add(name, type_, help_, number / divisor if divisor != 1.0 else number)


_UNNAMED: dict[str, About] = {}


def _unnamed(key: str) -> About:
    """The untyped family of a numeric INFO field we have no name for."""
    about = _UNNAMED.get(key)
    if about is None:
        if len(_UNNAMED) > 10_000:  # keys come from servers: keep the cache bounded
            _UNNAMED.clear()
        about = _UNNAMED[key] = (
            metric_name("redis_", key),
            UNTYPED,
            f"INFO field {key}, not yet named by cachescope.",
        )
    return about


def _is_indexed(key: str, prefix: str) -> bool:
    return key.startswith(prefix) and key[len(prefix) :].isdecimal()


def _is_numbered_master(key: str) -> bool:
    """KeyDB's `master_<n>_<field>`, one group per primary after the first."""
    if not key.startswith("master_"):
        return False
    index, sep, _ = key[7:].partition("_")
    return bool(sep) and index.isdecimal()


def _add_other_masters(metrics: MetricSet, fields: dict[str, str]) -> None:
    """The link of each further primary of a multi-master replica (KeyDB), as for the first."""
    n = 1
    while f"master_{n}_host" in fields:
        prefix = f"master_{n}_"
        labels = (
            ("master_host", fields[prefix + "host"]),
            ("master_port", fields.get(prefix + "port", "")),
        )
        status = fields.get(prefix + "link_status")
        if status is not None:
            up = 1.0 if status == "up" else 0.0
            metrics.add(
                "redis_master_link_up", GAUGE, "Whether the link to the primary is up.", up, labels
            )
        for field, key in (
            ("master_last_io_seconds_ago", prefix + "last_io_seconds_ago"),
            ("master_sync_in_progress", prefix + "sync_in_progress"),
            ("slave_repl_offset", f"slave_repl_offset#{n}"),  # repeated blocks only
        ):
            number = to_float(fields.get(key, ""))
            if number is not None:
                name, help_ = _MASTER_FIELDS[field]
                metrics.add(name, GAUGE, help_, number, labels)
        n += 1


def _add_module(metrics: MetricSet, module: dict[str, str]) -> None:
    labels = tuple((label, module.get(label, "")) for label in _MODULE_LABELS)
    metrics.add("redis_module_info", GAUGE, "A loaded module, as labels.", 1, labels)


def _add_replica(metrics: MetricSet, replica: dict[str, str], primary: float | None) -> None:
    labels = (
        ("slave_ip", replica.get("ip", "")),
        ("slave_port", replica.get("port", "")),
        ("slave_state", replica.get("state", "")),
    )
    offset = to_float(replica.get("offset", ""))
    if offset is not None:
        metrics.add(
            "redis_connected_slave_offset_bytes",
            GAUGE,
            "Replication offset acknowledged by a replica.",
            offset,
            labels,
        )
        if primary is not None:
            # How far behind the replica is, in bytes, from one consistent INFO:
            # comparing offsets scraped from two servers would mix two moments.
            metrics.add(
                "redis_connected_slave_lag_bytes",
                GAUGE,
                "Bytes of replication stream the replica has not acknowledged.",
                max(primary - offset, 0.0),
                labels[:2],
            )
    lag = to_float(replica.get("lag", ""))
    if lag is not None:
        metrics.add(
            "redis_connected_slave_lag_seconds",
            GAUGE,
            "Seconds since the replica last acknowledged.",
            lag,
            labels,
        )


def _add_identity(metrics: MetricSet, fields: dict[str, str], now: float) -> None:
    uptime = to_float(fields.get("uptime_in_seconds", ""))
    if uptime is not None:
        metrics.add(
            "redis_start_time_seconds",
            GAUGE,
            "Unix time the server started.",
            float(int(now - uptime)),
        )
    labels = [(name, fields.get(name, "")) for name in _INSTANCE_LABELS]
    if not fields.get("redis_mode"):
        labels[3] = ("redis_mode", fields.get("server_mode", ""))
    labels += [(name, fields[name]) for name in _OPTIONAL_INSTANCE_LABELS if fields.get(name)]
    metrics.add(
        "redis_instance_info", GAUGE, "Facts about the server, as labels.", 1, tuple(labels)
    )
    if fields.get("role") in ("slave", "replica"):  # Dragonfly says "replica"
        metrics.add(
            "redis_slave_info",
            GAUGE,
            "Facts about this replica, as labels.",
            1,
            (
                ("master_host", fields.get("master_host", "")),
                ("master_port", fields.get("master_port", "")),
                ("read_only", fields.get("slave_read_only", "")),
            ),
        )


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
    keys_lines = metrics.lines("redis_db_keys", GAUGE, "Keys in the database.")
    expiring_lines = metrics.lines(
        "redis_db_keys_expiring", GAUGE, "Keys with an expiry in the database."
    )
    seen = set()
    for key, value in databases:
        stats = parse_kv(value)
        keys, expires = number_text(stats.get("keys", "")), number_text(stats.get("expires", ""))
        if keys is None or expires is None:
            continue
        seen.add(key)
        rendered = metrics.labels((("db", key),))
        keys_lines.append(f"redis_db_keys{rendered} {keys}\n")
        expiring_lines.append(f"redis_db_keys_expiring{rendered} {expires}\n")
        avg_ttl = to_float(stats.get("avg_ttl", ""))
        if avg_ttl is not None and avg_ttl >= 0:  # Dragonfly's -1: not computed
            metrics.add_text(
                "redis_db_avg_ttl_seconds",
                GAUGE,
                "Average TTL of expiring keys.",
                format_value(avg_ttl / 1000.0),
                rendered,
            )
    for index in range(db_count):
        db = f"db{index}"
        if db not in seen:
            rendered = metrics.labels((("db", db),))
            keys_lines.append(f"redis_db_keys{rendered} 0\n")
            expiring_lines.append(f"redis_db_keys_expiring{rendered} 0\n")
