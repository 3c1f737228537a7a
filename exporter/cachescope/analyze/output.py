"""The report of one target as JSON data (docs/analyze-report.schema.json) and as a table.

{"operation": "analyze-cache", "target": "redis://127.0.0.1:6379", "status": "success",
 "metrics": {"hitRate": 94.5, "memoryUsage": {"used": "3.2GB", ...}, ...},
 "recommendations": [{"category": "memory", "issue": "...", "action": "...",
                      "priority": "critical", "alert": "RedisMemoryNearLimit"}]}
"""

from __future__ import annotations

from typing import Any

import click

from cachescope.analyze.checks import human_bytes
from cachescope.analyze.figures import Figures
from cachescope.analyze.findings import PRIORITIES, Finding
from cachescope.analyze.search import SearchIndex
from cachescope.errors import Scrubber

Report = dict[str, Any]
COLOURS = {"critical": "red", "high": "yellow", "medium": "cyan", "low": "white"}


def report(
    target: str,
    findings: list[Finding],
    figures: Figures | None,
    error: str = "",
    audit: tuple[list[dict[str, Any]], dict[str, Any]] | None = None,
) -> Report:
    """One target's report; `error` set means it could not be read.

    `audit` is the configuration audit's recommendations and its summary (checks run,
    checks that could not run); they join the alerts' findings, most urgent first.
    """
    data: Report = {
        "operation": "analyze-cache",
        "target": target,
        "status": "error" if error else "success",
    }
    if error:
        data["error"] = error
    data["metrics"] = metrics(figures) if figures is not None else {}
    recommendations = [finding.as_dict() for finding in findings]
    if audit is not None:
        recommendations += audit[0]
        data["audit"] = audit[1]
    data["recommendations"] = sorted(recommendations, key=lambda r: PRIORITIES.index(r["priority"]))
    return data


def scrubbed(data: Any, scrubber: Scrubber) -> Any:
    """A report (or any part of one) with every string scrubbed of the target's password."""
    if isinstance(data, str):
        return scrubber.text(data)
    if isinstance(data, dict):
        return {key: scrubbed(value, scrubber) for key, value in data.items()}
    if isinstance(data, list):
        return [scrubbed(value, scrubber) for value in data]
    return data


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _count(value: float | None) -> int | None:
    return None if value is None else int(value)


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else round(ratio * 100, 1)


def metrics(f: Figures) -> dict[str, Any]:
    """The figures in camelCase, rates per second, percentages 0-100, memory in Redis units."""
    hit = f.hit_ratio
    return {
        "server": {
            "kind": f.kind,
            "version": f.version,
            "mode": f.mode,
            "role": f.role,
            "uptimeSeconds": _count(f.uptime),
        },
        "intervalSeconds": _round(f.interval),
        "hitRate": _percent(hit),
        "missRate": None if hit is None else round(100 - hit * 100, 1),
        "lookupsPerSecond": _round(f.lookups_per_second),
        "evictionRate": _round(f.evictions_per_second),
        "expiryRate": _round(f.expiries_per_second),
        "opsPerSecond": _round(f.ops_per_second),
        "memoryUsage": {
            "used": human_bytes(f.used),
            "peak": human_bytes(f.peak),
            "maxmemory": "unlimited" if f.maxmemory == 0 else human_bytes(f.maxmemory),
            "utilizationPercent": _percent(f.memory_ratio),
            "usedBytes": _count(f.used),
            "peakBytes": _count(f.peak),
            "maxmemoryBytes": _count(f.maxmemory),
            "policy": f.policy,
        },
        "fragmentationRatio": f.fragmentation,
        "connections": {
            "current": _count(f.clients),
            "blocked": _count(f.blocked),
            "maxClients": _count(f.maxclients),
            "newPerSecond": _round(f.connections_per_second),
        },
        "keys": {
            "total": _count(f.keys),
            "withoutTtl": None
            if f.keys_expiring is None
            else _count((f.keys or 0) - f.keys_expiring),
            "withoutTtlPercent": _percent(f.no_ttl_ratio),
        },
        "replication": _replication(f) if f.kind == "redis" else None,
        "persistence": _persistence(f) if f.kind == "redis" else None,
        "searchIndexes": [_search_index(index) for index in f.search_indexes]
        if f.kind == "redis"
        else None,
    }


def _search_index(index: SearchIndex) -> dict[str, Any]:
    """One index's figures from its redis_search_index_* series; None where the module has none."""
    failures = index.failures
    return {
        "name": index.name,
        "docs": _count(index.docs),
        "records": _count(index.records),
        "terms": _count(index.terms),
        "percentIndexed": _percent(index.percent_indexed),
        "indexing": index.indexing,
        "indexingFailures": None if failures is None else _count(failures[1]),
        "indexingFailuresDuringSample": None if failures is None else _count(failures[0]),
        "memory": human_bytes(index.memory_bytes),
        "memoryBytes": _count(index.memory_bytes),
        "invertedIndexBytes": _count(index.inverted_bytes),
    }


def _replication(f: Figures) -> dict[str, Any]:
    lags = [r.lag_seconds for r in f.replicas if r.lag_seconds is not None]
    return {
        "role": f.role,
        "linkUp": f.link_up,
        "lastIoSecondsAgo": f.last_io_seconds,
        "replicas": [
            {"address": r.address, "state": r.state, "lagSeconds": r.lag_seconds}
            for r in f.replicas
        ],
        "maxLagSeconds": max(lags) if lags else None,
    }


def _persistence(f: Figures) -> dict[str, Any]:
    return {
        "rdbLastSaveOk": f.rdb_ok,
        "rdbSaves": _count(f.rdb_saves),
        "lastSaveSecondsAgo": _round(f.last_save_age, 0),
        "changesSinceLastSave": _count(f.changes_since_save),
        "aofEnabled": f.aof_enabled,
        "aofLastWriteOk": f.aof_write_ok,
    }


def table(reports: list[Report], colour: bool) -> str:
    """The reports for a terminal: key figures, then findings, most urgent first."""
    return "\n\n".join(_table_one(data, colour) for data in reports) + "\n"


def _style(text: str, colour: bool, **style: Any) -> str:
    return click.style(text, **style) if colour else text


def _table_one(data: Report, colour: bool) -> str:
    status = data["status"]
    head = f"{data['target']}  {status}"
    lines = [_style(head, colour, bold=True, fg="red" if status == "error" else None)]
    if data.get("error"):
        lines.append(f"  error         {data['error']}")
    if data["metrics"]:
        lines += _figure_lines(data["metrics"])
    findings = data["recommendations"]
    if not findings:
        lines.append(_style("  no findings", colour, fg="green"))
    else:
        lines.append(f"  {'PRIORITY':<9} {'CATEGORY':<13} ISSUE -> ACTION")
    for finding in findings:
        level = _style(f"{finding['priority']:<9}", colour, fg=COLOURS[finding["priority"]])
        lines.append(f"  {level} {finding['category']:<13} {finding['issue']}")
        source = finding.get("alert") or finding["check"]  # an alert's, or the audit's
        lines.append(f"  {'':<9} {'':<13} -> {finding['action']} ({source})")
        if "fix" in finding:
            lines.append(f"  {'':<9} {'':<13}    fix: {finding['fix']}")
    return "\n".join(lines)


def _show(value: Any, suffix: str = "") -> str:
    """A figure for the table: '-' if unknown, yes/no for a flag, else with its unit."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}{suffix}"
    return f"{value}{suffix}"


def _duration(seconds: float | None) -> str:
    """Seconds as a person reads them: '45 s', '12 min', '3 h 20 min', '4 d 2 h'."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:g} s"
    minutes = int(seconds // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours, days = minutes // 60, minutes // 1440
    if days < 2:
        return f"{hours} h {minutes % 60} min"
    return f"{days} d {hours % 24} h"


def _figure_lines(m: dict[str, Any]) -> list[str]:
    server, memory, conns, keys = m["server"], m["memoryUsage"], m["connections"], m["keys"]
    lines = [
        f"  server        {server['kind']} {_show(server['version'])},"
        f" role {_show(server['role'])}, up {_duration(server['uptimeSeconds'])},"
        f" sampled over {_duration(m['intervalSeconds'])}",
        f"  hit rate      {_show(m['hitRate'], '%')} (miss {_show(m['missRate'], '%')}),"
        f" {_show(m['opsPerSecond'])} ops/s, evictions {_show(m['evictionRate'])}/s,"
        f" expiries {_show(m['expiryRate'])}/s",
        f"  memory        {_show(memory['used'])} of {_show(memory['maxmemory'])}"
        f" ({_show(memory['utilizationPercent'], '%')}), peak {_show(memory['peak'])},"
        f" policy {_show(memory['policy'])}, fragmentation {_show(m['fragmentationRatio'])}",
        f"  connections   {_show(conns['current'])} of {_show(conns['maxClients'])},"
        f" {_show(conns['blocked'])} blocked, {_show(conns['newPerSecond'])} new/s",
        f"  keys          {_show(keys['total'])},"
        f" {_show(keys['withoutTtlPercent'], '%')} without TTL",
    ]
    repl, persist = m["replication"], m["persistence"]
    if repl is not None:
        lines.append(
            f"  replication   {_show(repl['role'])}, {len(repl['replicas'])} replicas,"
            f" link up {_show(repl['linkUp'])}, max lag {_duration(repl['maxLagSeconds'])}"
        )
    if persist is not None:
        lines.append(
            f"  persistence   last rdb save ok {_show(persist['rdbLastSaveOk'])},"
            f" aof {'on' if persist['aofEnabled'] else 'off'}"
        )
    for index in m.get("searchIndexes") or []:
        lines.append(
            f"  search index  {index['name']}: {_show(index['docs'])} docs,"
            f" {_show(index['percentIndexed'], '%')} indexed,"
            f" {_show(index['indexingFailures'])} failures, {_show(index['memory'])}"
        )
    return lines
