"""Alerts about cachescope itself: the exporter, its scrapes of each target, its audit of them."""

from __future__ import annotations

from cachescope.alerts.model import AlertDef
from cachescope.analyze.checks import scrape_slow

GROUP = "cachescope.exporter"


ALERTS = (
    AlertDef(
        name="CachescopeExporterDown",
        expr="up{@{exporter_selector}} == 0",
        summary="Prometheus cannot scrape cachescope.",
        description=(
            "Prometheus has failed to scrape {{ $labels.instance }} (job {{ $labels.job }})"
            " for more than @{for}: the caches behind it are not monitored."
        ),
        category="availability",
        action=(
            "restart the exporter and read its log for why it stopped; a 400 on /scrape means the "
            "target is not in its configuration or allow list"
        ),
        unjudged=(
            "it is Prometheus failing to scrape the exporter, seen from outside: analyze reads the "
            "servers itself"
        ),
    ),
    AlertDef(
        name="CachescopeScrapeErrors",
        # ignoring (error), not on (job, instance): with --append-instance-role-label both
        # sides hold a target's old and new role for 10m after a failover, and a match on
        # (job, instance) alone would find two series per side and fail the rule group.
        expr=(
            "rate(cachescope_scrape_errors_total{@{selector}}[10m])\n"
            "/ ignoring (error) group_left ()"
            " (rate(cachescope_scrapes_total{@{selector}}[10m]) > 0)\n"
            "> @{threshold}"
        ),
        summary="cachescope fails to scrape a target.",
        description=(
            "{{ $value | humanizePercentage }} of the scrapes of {{ $labels.instance }} fail"
            " with {{ $labels.error }} errors (threshold @{threshold|pct})."
        ),
        category="availability",
        action=(
            "auth/tls: fix the exporter's credentials or CA; timeout: see the latency alerts or "
            "lengthen the timeout; busy: raise the timeout or the scrape interval"
        ),
        unjudged=(
            "it is a rate of failed scrapes over 10 minutes of the exporter's own scrapes; analyze "
            "reads each server twice and reports one that cannot be read as down"
        ),
    ),
    AlertDef(
        name="CachescopeScrapeSlow",
        expr=(
            "avg_over_time(cachescope_scrape_duration_seconds{@{selector}}[5m])"
            " > @{threshold}\n"
            "unless on (job, instance)"
            " (redis_up{@{selector}} == 0 or memcached_up{@{selector}} == 0)"
        ),
        summary="cachescope scrapes of a target are slow.",
        description=(
            "Scrapes of {{ $labels.instance }} take {{ $value | humanizeDuration }} on"
            " average (threshold @{threshold}s)."
        ),
        category="latency",
        action="the server answers slowly: check its latency (long commands, swap) and the network",
        check=scrape_slow,
    ),
    AlertDef(
        name="CachescopeConfigFinding",
        # label_replace keeps the finding's own priority as `priority`: the rule's
        # `severity: info` replaces the series' `severity` label on the alert.
        expr=(
            'label_replace(cachescope_config_finding{@{selector}} == 1, "priority", "$1",'
            ' "severity", "(.+)")'
        ),
        summary="The configuration audit finds a setting that will hurt a cache.",
        description=(
            "The configuration audit of {{ $labels.instance }} finds {{ $labels.check }}"
            " ({{ $labels.priority }} priority) for more than @{for}; `cachescope analyze`"
            " shows the evidence and the exact fix."
        ),
        category="availability",
        action=(
            "run `cachescope analyze` on the instance and apply the finding's fix line, or accept "
            "the setting knowingly"
        ),
        unjudged=(
            "it is the configuration audit itself, which analyze reports in full (evidence and "
            "fix) in its audit section"
        ),
    ),
)
