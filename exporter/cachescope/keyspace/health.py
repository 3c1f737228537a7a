"""What a keyspace sampler adds to a scrape: its findings, its pass's progress, its health."""

from __future__ import annotations

import time

from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import COUNTER, GAUGE
from cachescope.keyspace.sampler import Sampler


def add_metrics(sampler: Sampler, metrics: MetricSet) -> None:
    """The reported pass's results, its progress and the sampler's health, into a scrape."""
    samples, finished = sampler.findings()
    limit = sampler.config.max_series
    if len(samples) > limit:
        sampler.dropped += len(samples) - limit
        samples = samples[:limit]
    for name, type_, help_, value, labels in samples:
        metrics.add(name, type_, help_, value, labels)
    _add_progress(sampler, metrics)
    if finished:
        metrics.add(
            "redis_keyspace_sample_age_seconds",
            GAUGE,
            "Seconds since the last sampling cycle ended.",
            time.time() - finished,
        )
        metrics.add(
            "redis_keyspace_sample_duration_seconds",
            GAUGE,
            "Duration of the last sampling cycle.",
            sampler.duration,
        )
    metrics.add(
        "redis_keyspace_hot_keys_supported",
        GAUGE,
        "1 if the eviction policy is LFU, so OBJECT FREQ can rank hot keys.",
        1.0 if sampler.hot_keys_supported else 0.0,
    )
    metrics.add(
        "redis_keyspace_sample_commands_total",
        COUNTER,
        "Commands the sampler has sent.",
        sampler.commands,
    )
    metrics.add(
        "redis_keyspace_sample_errors_total",
        COUNTER,
        "Sampling cycles that failed.",
        sampler.errors,
    )
    metrics.add(
        "redis_keyspace_series_dropped_total",
        COUNTER,
        "Sampler series left out by the per-target series cap.",
        sampler.dropped,
    )
    if sampler.source:
        metrics.add(
            "redis_keyspace_sample_source_info",
            GAUGE,
            "Where the sampler reads keys: the primary or a replica.",
            1,
            (("source", sampler.source),),
        )


def _add_progress(sampler: Sampler, metrics: MetricSet) -> None:
    progress = sampler.progress()
    metrics.add(
        "redis_keyspace_pass_progress_ratio",
        GAUGE,
        "Share of the keyspace the running pass has looked at (1: about to complete).",
        progress.ratio,
    )
    metrics.add(
        "redis_keyspace_pass_estimated_seconds",
        GAUGE,
        "Time a whole pass takes at the configured keys_per_cycle and interval.",
        progress.estimated,
    )
    metrics.add(
        "redis_keyspace_passes_total",
        COUNTER,
        "Whole passes over the keyspace completed; results are the last one's.",
        sampler.passes,
    )
    if sampler.passes:
        metrics.add(
            "redis_keyspace_pass_duration_seconds",
            GAUGE,
            "Duration of the last completed pass.",
            sampler.pass_duration,
        )
