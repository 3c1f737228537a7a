"""Turn parsed stats replies into metric families (pure: no I/O)."""

from __future__ import annotations

from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import COUNTER, GAUGE, About, Labels, number_text, unnamed
from cachescope.memcached import fields
from cachescope.memcached.parse import Stats, to_float, yes_no

_COMMANDS_HELP = "Requests by command (get, set, ...) and status (hit, miss, badval)."
_SLAB_COMMANDS_HELP = "Requests per slab class by command and status."
# Untyped fallbacks must not take the name of a family some table defines.
_KNOWN_NAMES = {
    field.name
    for table in (fields.STATS, fields.LRU_SETTINGS, fields.SLABS, fields.ITEMS)
    for field in table.values()
}
_KNOWN_NAMES |= {
    "memcached_up",
    "memcached_version",
    "memcached_commands_total",
    fields.MAX_CONNECTIONS[1].name,
}


Table = dict[str, tuple[About, float]]  # stats field -> (family, scale)


def _table(table: dict[str, fields.Field]) -> Table:
    return {key: (About(f.name, f.type, f.help), f.scale) for key, f in table.items()}


_STATS, _SLABS, _ITEMS = _table(fields.STATS), _table(fields.SLABS), _table(fields.ITEMS)


def add_stats(metrics: MetricSet, stats: Stats) -> None:
    """`stats` (plus the totals of `stats slabs`): every field we know, and numeric unknowns."""
    _add_table(metrics, _STATS, stats, ())
    for key, value in stats.items():
        if key not in _STATS and key not in fields.COMMANDS and key not in fields.SKIPPED:
            _add_untyped(metrics, key, value)
    _add_commands(metrics, stats)
    if "version" in stats:
        metrics.add(
            "memcached_version",
            GAUGE,
            "The version of this memcached server.",
            1,
            (("version", stats["version"]),),
        )


def _add_untyped(metrics: MetricSet, key: str, value: str) -> None:
    number = to_float(value)
    name, type_, help_ = unnamed("memcached_", key, "stats field")
    if number is not None and name not in _KNOWN_NAMES:
        metrics.add(name, type_, help_, number)


def _add_commands(metrics: MetricSet, stats: Stats) -> None:
    commands = metrics.family("memcached_commands_total", COUNTER, _COMMANDS_HELP)
    for key, (command, status) in fields.COMMANDS.items():
        number = to_float(stats.get(key))
        if number is not None:
            commands.add(number, (("command", command), ("status", status)))
    sets = _less(stats, "cmd_set", fields.SET_LESS)
    if sets is not None:
        commands.add(sets, (("command", "set"), ("status", "hit")))


def _less(stats: Stats, key: str, minus: tuple[str, ...]) -> float | None:
    """stats[key] less the sum of the `minus` fields; None if any is missing."""
    values = [to_float(stats.get(name)) for name in (key, *minus)]
    if any(value is None for value in values):
        return None
    total, *rest = values
    return max((total or 0.0) - sum(v or 0.0 for v in rest), 0.0)


def add_settings(metrics: MetricSet, settings: Stats, stats: Stats) -> None:
    """`stats settings`; where they are refused, `stats` still knows max_connections."""
    key, field = fields.MAX_CONNECTIONS
    maxconns = to_float(settings.get(key, stats.get("max_connections")))
    if maxconns is not None:
        metrics.add(field.name, field.type, field.help, maxconns)
    if settings.get("lru_crawler") != "yes":
        return
    for key, field in fields.LRU_SETTINGS.items():
        value = settings.get(key)
        number = yes_no(value) if value in ("yes", "no") else to_float(value)
        if number is not None:
            metrics.add(field.name, field.type, field.help, number)


def add_slabs(metrics: MetricSet, slabs: dict[str, Stats], items: dict[str, Stats]) -> None:
    """Per slab class series from `stats slabs` and `stats items`, in class order."""
    for slab in sorted(set(slabs) | set(items), key=int):
        labels = (("slab", slab),)
        per_slab = slabs.get(slab, {})
        _add_table(metrics, _SLABS, per_slab, labels)
        _add_slab_commands(metrics, slab, per_slab)
        item_stats = items.get(slab, {})
        if "mem_requested" in per_slab:  # memcached < 1.6 has it in both replies
            item_stats = {k: v for k, v in item_stats.items() if k != "mem_requested"}
        _add_table(metrics, _ITEMS, item_stats, labels)
        _add_lru_hits(metrics, slab, item_stats)


def _add_lru_hits(metrics: MetricSet, slab: str, stats: Stats) -> None:
    hits = metrics.family("memcached_slab_lru_hits_total", COUNTER, "Hits per LRU segment.")
    for key, lru in fields.LRU_HITS.items():
        value = stats.get(key)
        text = None if value is None else number_text(value)
        if text is not None:
            hits.add_text(text, metrics.labels((("slab", slab), ("lru", lru))))


def _add_table(metrics: MetricSet, table: Table, stats: Stats, labels: Labels) -> None:
    """The fields of `table` in `stats`; plain numbers go out as the server wrote them."""
    plain: list[tuple[About, str]] = []
    for key, (about, scale) in table.items():
        value = stats.get(key)
        if value is None:
            continue
        if scale == 1.0 and value.isascii() and value.replace(".", "", 1).isdecimal():
            plain.append((about, value))
        else:
            number = to_float(value)
            if number is not None:
                name, type_, help_ = about
                metrics.add(name, type_, help_, number * scale, labels)
    metrics.add_numbers(plain, metrics.labels(labels))


def _add_slab_commands(metrics: MetricSet, slab: str, stats: Stats) -> None:
    commands = metrics.family("memcached_slab_commands_total", COUNTER, _SLAB_COMMANDS_HELP)
    for key, (command, status) in fields.SLAB_COMMANDS.items():
        value = stats.get(key)
        text = None if value is None else number_text(value)
        if text is not None:
            commands.add_text(
                text, metrics.labels((("slab", slab), ("command", command), ("status", status)))
            )
    sets = _less(stats, "cmd_set", fields.SLAB_SET_LESS)
    if sets is not None:
        commands.add(sets, (("slab", slab), ("command", "set"), ("status", "hit")))
