"""Rules about cachescope itself: the exporter process and its scrapes of each target."""

from __future__ import annotations

from cachescope.rules.model import Alert, Group

ALERTS = Group(
    "cachescope.exporter",
    (
        Alert(
            "CachescopeExporterDown",
            "up{@{exporter_selector}} == 0",
            "Prometheus cannot scrape cachescope.",
            "Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }})"
            " for more than @{for}: the caches behind it are not monitored.",
        ),
        Alert(
            "CachescopeScrapeErrors",
            "rate(cachescope_scrape_errors_total{@{selector}}[10m])\n"
            "/ on (job, instance) group_left ()"
            " (rate(cachescope_scrapes_total{@{selector}}[10m]) > 0)\n"
            "> @{threshold}",
            "cachescope fails to scrape a target.",
            "{{ $value | humanizePercentage }} of the scrapes of {{ $labels.instance }} fail"
            " with {{ $labels.error }} errors (threshold @{threshold|pct}).",
        ),
        Alert(
            "CachescopeScrapeSlow",
            "avg_over_time(cachescope_scrape_duration_seconds{@{selector}}[5m])"
            " > @{threshold}\n"
            "unless on (job, instance)"
            " (redis_up{@{selector}} == 0 or memcached_up{@{selector}} == 0)",
            "cachescope scrapes of a target are slow.",
            "Scrapes of {{ $labels.instance }} take {{ $value | humanizeDuration }} on"
            " average (threshold @{threshold}s).",
        ),
    ),
)

GROUPS = (ALERTS,)
