"""Redis Sentinel: parse SENTINEL replies and build their metrics (pure).

redis_sentinel_masters 1
redis_sentinel_master_status{master_name="mymaster",...,master_status="ok"} 1
redis_sentinel_master_odown{master_name="mymaster",master_address="10.0.0.1:6379"} 0
redis_sentinel_master_ok_sentinels{master_name="mymaster",master_address="10.0.0.1:6379"} 3
"""

from __future__ import annotations

from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import GAUGE
from cachescope.redis.parse import as_text, parse_kv, to_float

# SENTINEL MASTERS field -> (metric, help, divisor to base units); names as redis_exporter's.
_MASTER_FIELDS = {
    "quorum": (
        "redis_sentinel_master_setting_ckquorum",
        "Sentinels needed to agree on ODOWN.",
        1.0,
    ),
    "failover-timeout": (
        "redis_sentinel_master_setting_failover_timeout",
        "failover-timeout setting, ms.",
        1.0,
    ),
    "parallel-syncs": (
        "redis_sentinel_master_setting_parallel_syncs",
        "parallel-syncs setting.",
        1.0,
    ),
    "down-after-milliseconds": (
        "redis_sentinel_master_setting_down_after_milliseconds",
        "down-after-milliseconds setting.",
        1.0,
    ),
    "config-epoch": ("redis_sentinel_master_config_epoch", "Config epoch of the master.", 1.0),
    "last-ok-ping-reply": (
        "redis_sentinel_master_last_ok_ping_reply_seconds",
        "Seconds since the master last answered a PING.",
        1000.0,
    ),
}
_FLAG_METRICS = (
    (
        "s_down",
        "redis_sentinel_master_sdown",
        "1 if this sentinel sees the master subjectively down.",
    ),
    ("o_down", "redis_sentinel_master_odown", "1 if the sentinels agree the master is down."),
    (
        "failover_in_progress",
        "redis_sentinel_master_failover_in_progress",
        "1 while a failover of this master runs.",
    ),
)


def entries(reply: object) -> list[dict[str, str]]:
    """A list of flat [key, value, ...] arrays (SENTINEL MASTERS, REPLICAS, ...) as dicts."""
    result: list[dict[str, str]] = []
    if not isinstance(reply, list):
        return result
    for item in reply:
        if isinstance(item, list):
            texts = [as_text(x) for x in item]
            result.append(dict(zip(texts[0::2], texts[1::2], strict=False)))
    return result


def healthy(entry: dict[str, str]) -> bool:
    flags = entry.get("flags", "").split(",")
    return "s_down" not in flags and "o_down" not in flags


def add_sentinel_info(metrics: MetricSet, fields: dict[str, str]) -> list[str]:
    """Per-master lines of a sentinel's INFO (`master0:name=...`); returns the master names."""
    names = []
    for key, value in fields.items():
        if not (key.startswith("master") and key[6:].isdecimal()):
            continue
        master = parse_kv(value)
        name, address, status = (
            master.get("name", ""),
            master.get("address", ""),
            master.get("status", ""),
        )
        names.append(name)
        labels = (("master_name", name), ("master_address", address))
        metrics.add(
            "redis_sentinel_master_status",
            GAUGE,
            "1 if the master's status is ok.",
            1.0 if status == "ok" else 0.0,
            labels + (("master_status", status),),
        )
        for field, metric, help_ in (
            ("slaves", "redis_sentinel_master_slaves", "Replicas of the master."),
            ("sentinels", "redis_sentinel_master_sentinels", "Sentinels watching the master."),
        ):
            number = to_float(master.get(field, ""))
            if number is not None:
                metrics.add(metric, GAUGE, help_, number, labels)
    return names


def add_master_details(
    metrics: MetricSet,
    master: dict[str, str],
    ckquorum: object,
    replicas: object,
    sentinels: object,
) -> None:
    """Metrics of one SENTINEL MASTERS entry and its CKQUORUM, REPLICAS and SENTINELS replies."""
    name = master.get("name", "")
    labels = (("master_name", name), ("master_address", f"{master.get('ip')}:{master.get('port')}"))
    for field, (metric, help_, scale) in _MASTER_FIELDS.items():
        number = to_float(master.get(field, ""))
        if number is not None:
            metrics.add(metric, GAUGE, help_, number / scale, labels)
    flags = master.get("flags", "").split(",")
    for flag, metric, help_ in _FLAG_METRICS:
        metrics.add(metric, GAUGE, help_, 1.0 if flag in flags else 0.0, labels)
    if isinstance(ckquorum, bytes):
        message, ok = ckquorum.decode("utf-8", "replace"), 1.0
    else:
        message, ok = str(ckquorum), 0.0
    metrics.add(
        "redis_sentinel_master_ckquorum_status",
        GAUGE,
        "1 if the sentinels can reach quorum and authorize a failover.",
        ok,
        (("master_name", name), ("message", message)),
    )
    if isinstance(replicas, list):
        metrics.add(
            "redis_sentinel_master_ok_slaves",
            GAUGE,
            "Replicas not seen as down.",
            sum(1 for entry in entries(replicas) if healthy(entry)),
            labels,
        )
    if isinstance(sentinels, list):
        others = sum(1 for entry in entries(sentinels) if healthy(entry))
        metrics.add(
            "redis_sentinel_master_ok_sentinels",
            GAUGE,
            "Sentinels not seen as down, this one included.",
            1 + others,
            labels,
        )
