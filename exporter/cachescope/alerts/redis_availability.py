"""Redis alerts on availability: down, restarted, loading its dataset."""

from __future__ import annotations

from cachescope.alerts.model import AlertDef
from cachescope.analyze.checks import Params, seconds
from cachescope.analyze.figures import Figures

GROUP = "cachescope.redis.availability"


def _restarted(f: Figures, p: Params) -> str | None:
    if f.uptime is None or f.uptime >= seconds(p, "window"):
        return None
    return f"restarted {f.uptime:.0f}s ago: the cache is cold unless it loaded a dataset"


def _loading(f: Figures, p: Params) -> str | None:
    return "loading its dataset: clients get LOADING errors" if f.loading else None


ALERTS = (
    AlertDef(
        name="RedisDown",
        expr="redis_up{@{selector}} == 0",
        summary="Redis is down or cannot be scraped.",
        description=(
            "cachescope has not been able to read Redis {{ $labels.instance }} for more than"
            " @{for}: the server is down, or unreachable from the exporter"
            " (see cachescope_scrape_errors_total for the kind of error)."
        ),
        category="availability",
        action=(
            "check that the server runs and that the address and credentials are right; "
            "restart it and read its log for why it stopped"
        ),
        unjudged=(
            "analyze reports it when it cannot read the target at all (findings.unreachable), "
            "not from a sample"
        ),
    ),
    AlertDef(
        name="RedisRestarted",
        fires_below=True,
        bound_key="window",
        expr="redis_uptime_in_seconds{@{selector}} < @{window|seconds}",
        summary="Redis restarted recently.",
        description=(
            "Redis {{ $labels.instance }} started {{ $value | humanizeDuration }} ago;"
            " its cache is cold unless it loaded a dataset."
        ),
        category="availability",
        action=(
            "if nobody planned the restart, find why (OOM kill, crash) in the server and kernel "
            "logs; expect misses while the cache warms up"
        ),
        check=_restarted,
    ),
    AlertDef(
        name="RedisLoading",
        expr="redis_loading_dump_file{@{selector}} == 1",
        summary="Redis is loading its dataset and answers LOADING.",
        description=(
            "Redis {{ $labels.instance }} has been loading its dataset for more than @{for};"
            " until it finishes, clients get LOADING errors."
        ),
        category="availability",
        action=(
            "wait for loading to finish; if it is slow check disk throughput, and consider no "
            'persistence (save "", appendonly no) for a cache that need not survive restarts'
        ),
        check=_loading,
    ),
)
