"""The cachescope exporter itself: scrape durations and errors per target, targets up."""

from __future__ import annotations

from typing import Any

from cachescope.dashboards import grafana
from cachescope.dashboards.bounds import Bound
from cachescope.dashboards.common import (
    RATE,
    UP_MAPPINGS,
    instance_variable,
    job_variable,
    panel_kw,
    q,
    series,
    single,
)

UID = "cachescope-exporter"
PROCESS = 'job=~"$job", instance=~"$exporter"'
I = "{{instance}}"  # noqa: E741 (a legend, read as "instance")
UP = "(redis_up{SEL} or memcached_up{SEL})"


def process_panels(t: dict[str, Any]) -> list[grafana.Panel]:
    """The exporter process, as Prometheus scrapes it."""
    version = single(
        t,
        "Version",
        "cachescope_build_info{SEL}",
        "Build of each exporter.",
        selector=PROCESS,
        legend="{{version}}",
    )
    version["options"]["textMode"] = "name"
    return [
        single(
            t,
            "Exporters up",
            "sum(up{SEL})",
            "Exporter processes Prometheus can scrape.",
            runbooks=["CachescopeExporterDown"],
            selector=PROCESS,
            legend="",
        ),
        version,
        single(
            t,
            "Targets configured",
            "sum(cachescope_targets{SEL})",
            "Targets the exporters watch, discovered ones included.",
            selector=PROCESS,
            legend="",
        ),
        single(
            t,
            "Targets down",
            f"sum(1 - {UP})",
            "Targets whose last scrape failed.",
            runbooks=["RedisDown", "MemcachedDown"],
            legend="",
        ),
        series(
            t,
            "Exporter memory",
            [
                ("process_resident_memory_bytes{SEL}", f"{I} RSS"),
            ],
            "Resident memory of each exporter process.",
            "bytes",
            selector=PROCESS,
        ),
        series(
            t,
            "Exporter CPU",
            [
                (f"rate(process_cpu_seconds_total{{SEL}}[{RATE}])", I),
            ],
            "CPU seconds per second.",
            "percentunit",
            selector=PROCESS,
        ),
        series(
            t,
            "Open file descriptors",
            [
                ("process_open_fds{SEL}", f"{I} open"),
                ("process_max_fds{SEL}", f"{I} max"),
            ],
            "One connection per kept target, plus HTTP.",
            "short",
            selector=PROCESS,
        ),
    ]


def target_panels(t: dict[str, Any]) -> list[grafana.Panel]:
    """How each target's scrapes go."""
    error_ratio = (
        f"rate(cachescope_scrape_errors_total{{SEL}}[{RATE}])\n"
        "/ ignoring (error) group_left ()"  # see CachescopeScrapeErrors: roles at failover
        f" (rate(cachescope_scrapes_total{{SEL}}[{RATE}]) > 0)"
    )
    queries = [
        f"max by (job, instance) {UP}",
        "max by (job, instance) (cachescope_scrape_duration_seconds{SEL})",
        f"sum by (job, instance) (increase(cachescope_scrape_errors_total{{SEL}}[{RATE}]))",
        f"sum by (job, instance) (rate(cachescope_scrapes_total{{SEL}}[{RATE}]))",
    ]
    targets = grafana.table(
        "Targets",
        [grafana.target(q(e), ref=chr(ord("A") + i), instant=True) for i, e in enumerate(queries)],
        "Every target: up, last scrape duration, failed scrapes and scrapes/s.",
        [
            grafana.column(
                "Value #A",
                "up",
                mappings=UP_MAPPINGS,
                **panel_kw(t, runbooks=["RedisDown", "MemcachedDown"]),
            ),
            grafana.column(
                "Value #B", "last scrape", "s", **panel_kw(t, [Bound("CachescopeScrapeSlow")])
            ),
            grafana.column("Value #C", "failed scrapes"),
            grafana.column("Value #D", "scrapes/s"),
        ],
        sort_by="failed scrapes",
    )
    return [
        targets,
        series(
            t,
            "Scrape duration",
            [
                (f"avg_over_time(cachescope_scrape_duration_seconds{{SEL}}[{RATE}])", I),
            ],
            "Time to scrape each target; the alert averages 5 minutes.",
            "s",
            [Bound("CachescopeScrapeSlow")],
            width=12,
        ),
        series(
            t,
            "Failed scrapes by kind (share)",
            [
                (error_ratio, f"{I} {{{{error}}}}"),
            ],
            "Share of each target's scrapes failing, per kind: connect, timeout, auth, tls ...",
            "percentunit",
            [Bound("CachescopeScrapeErrors")],
            width=12,
        ),
        series(
            t,
            "Errors/s by kind",
            [
                (
                    f"sum by (error) (rate(cachescope_scrape_errors_total{{SEL}}[{RATE}]))",
                    "{{error}}",
                ),
            ],
            "All selected targets together.",
            "short",
        ),
        series(
            t,
            "Scrapes/s",
            [
                (f"rate(cachescope_scrapes_total{{SEL}}[{RATE}])", I),
            ],
            "Scrapes of each target.",
            "short",
        ),
        series(
            t,
            "Keyspace sampler",
            [
                ("redis_keyspace_sample_duration_seconds{SEL}", f"{I} cycle duration"),
                (f"rate(redis_keyspace_sample_errors_total{{SEL}}[{RATE}])", f"{I} errors/s"),
            ],
            "Targets with a keyspace sampler: its last cycle's duration and its errors.",
            "s",
        ),
    ]


def build(thresholds: dict[str, Any]) -> dict[str, Any]:
    """The exporter dashboard."""
    variables = [
        job_variable("cachescope_scrapes_total"),
        instance_variable("cachescope_scrapes_total"),
        grafana.query_variable(
            "exporter", "Exporter", 'label_values(cachescope_build_info{job=~"$job"}, instance)'
        ),
    ]
    panels = [
        grafana.row("Exporter"),
        *process_panels(thresholds),
        grafana.row("Targets"),
        *target_panels(thresholds),
    ]
    return grafana.dashboard(
        UID,
        "cachescope exporter",
        "The exporter itself: is it scraped, how long each target takes, which targets fail"
        " and why.",
        variables,
        panels,
    )
