"""The status page at `/`: every target, its state, last scrape and last error."""

from __future__ import annotations

import html
import time
from urllib.parse import quote

from cachescope import __version__
from cachescope.scrape.state import TargetState

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>cachescope</title>
<meta http-equiv="refresh" content="30">
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ text-align: left; padding: 0.3em 0.8em; border-bottom: 1px solid #ddd; }}
tr.up td.state {{ background: #d8f5d8; color: #1a6b1a; font-weight: bold; }}
tr.down td.state {{ background: #f9d2d2; color: #a31515; font-weight: bold; }}
tr.down {{ background: #fff3f3; }}
tr.unknown td.state {{ background: #eee; color: #555; }}
</style></head>
<body><h1>cachescope {version}</h1>
<p>Prometheus exporter for Redis and Memcached.
<a href="/metrics">/metrics</a> (every target) &middot;
<a href="/discover">/discover</a> (HTTP service discovery) &middot;
<a href="/-/healthy">/-/healthy</a> &middot; <a href="/-/ready">/-/ready</a></p>
<h2>Targets: {up} up, {down} down, {unknown} not scraped yet</h2>
<table id="targets">
<tr><th>target</th><th>address</th><th>state</th><th>last scrape</th><th>duration</th>
<th>last error</th><th>keyspace pass</th><th>metrics</th></tr>
{rows}
</table></body></html>
"""

_ROW = (
    '<tr class="{state}" data-target="{name}"><td>{name}</td><td>{address}</td>'
    '<td class="state">{state}</td><td>{when}</td><td>{duration}</td><td>{error}</td>'
    '<td class="keyspace">{keyspace}</td>'
    '<td><a href="/scrape?target={link}">/scrape?target={name}</a></td></tr>'
)


def _row(state: TargetState, now: float) -> str:
    up = state.last_up
    label = "unknown" if up is None else ("up" if up else "down")
    when = f"{now - state.last_time:.0f}s ago" if state.last_time else "never"
    duration = f"{state.last_duration * 1000:.1f} ms" if state.last_time else ""
    return _ROW.format(
        state=label,
        name=html.escape(state.target.name),
        address=html.escape(state.target.endpoint.redacted()),
        when=when,
        duration=duration,
        error=html.escape(state.last_error),
        keyspace=_keyspace(state),
        link=quote(state.target.name, safe=""),
    )


def _keyspace(state: TargetState) -> str:
    """The sampler's pass: how far it is, how many completed, how long one takes."""
    if state.sampler is None:
        return ""
    progress = state.sampler.progress()
    return (
        f"{progress.ratio:.0%} of the running pass, {progress.passes} completed, "
        f"a pass takes about {_span(progress.estimated)}"
    )


def _span(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def render_status(states: list[TargetState]) -> str:
    """The page; every text from a target is escaped, and addresses carry no passwords."""
    now = time.time()
    states = sorted(states, key=lambda s: (s.last_up != 0.0, s.target.name))  # down first
    counts = {"up": 0, "down": 0, "unknown": 0}
    for state in states:
        counts["unknown" if state.last_up is None else ("up" if state.last_up else "down")] += 1
    rows = "\n".join(_row(state, now) for state in states)
    return _PAGE.format(version=__version__, rows=rows, **counts)
