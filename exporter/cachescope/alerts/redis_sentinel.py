"""Redis Sentinel alerts: masters down, quorum, TILT, failovers."""

from __future__ import annotations

from cachescope.alerts.model import AlertDef
from cachescope.analyze.checks import Params
from cachescope.analyze.figures import Figures

GROUP = "cachescope.redis.sentinel"


def _sentinel_down(f: Figures, p: Params) -> str | None:
    down = [m.name for m in f.sentinel_masters if not m.ok]
    return "master(s) seen down: " + ", ".join(down) if down else None


def _sentinel_odown(f: Figures, p: Params) -> str | None:
    down = [m.name for m in f.sentinel_masters if m.odown]
    return "master(s) objectively down: " + ", ".join(down) if down else None


def _quorum_risk(f: Figures, p: Params) -> str | None:
    risky = [
        f"{m.name} ({m.ok_sentinels:g} healthy, quorum {m.quorum:g})"
        for m in f.sentinel_masters
        if m.ok_sentinels is not None
        and m.quorum is not None
        and m.ok_sentinels < m.quorum + p["spare"]
    ]
    return "too few sentinels: " + ", ".join(risky) if risky else None


def _quorum_lost(f: Figures, p: Params) -> str | None:
    lost = [m.name for m in f.sentinel_masters if not m.ckquorum_ok]
    return "SENTINEL CKQUORUM fails for " + ", ".join(lost) if lost else None


def _tilt(f: Figures, p: Params) -> str | None:
    return "the sentinel is in TILT mode" if f.tilt else None


ALERTS = (
    AlertDef(
        name="RedisSentinelMasterDown",
        expr="redis_sentinel_master_status{@{selector}} == 0",
        summary="A sentinel sees its master down.",
        description=(
            "Sentinel {{ $labels.instance }} sees master {{ $labels.master_name }}"
            " ({{ $labels.master_address }}) as {{ $labels.master_status }}."
        ),
        category="sentinel",
        action="if only this sentinel sees it, check its network; otherwise follow the failover",
        check=_sentinel_down,
    ),
    AlertDef(
        name="RedisSentinelMasterOdown",
        expr="redis_sentinel_master_odown{@{selector}} == 1",
        summary="The sentinels agree a master is down.",
        description=(
            "Sentinel {{ $labels.instance }} reports master {{ $labels.master_name }}"
            " ({{ $labels.master_address }}) objectively down for more than @{for}, and no"
            " failover has replaced it."
        ),
        category="sentinel",
        action=(
            "a failover needs a sentinel majority and a healthy replica: fix whichever is missing"
        ),
        check=_sentinel_odown,
    ),
    AlertDef(
        name="RedisSentinelQuorumAtRisk",
        expr=(
            "redis_sentinel_master_ok_sentinels{@{selector}}\n"
            "< redis_sentinel_master_setting_ckquorum{@{selector}} + @{spare}"
        ),
        summary="Too few sentinels to survive losing another one.",
        description=(
            "Only {{ $value }} sentinels watching {{ $labels.master_name }} are healthy"
            " (seen by {{ $labels.instance }}); fewer than quorum + @{spare}."
        ),
        category="sentinel",
        action="restart missing sentinels; run at least three on independent hosts",
        check=_quorum_risk,
    ),
    AlertDef(
        name="RedisSentinelQuorumLost",
        expr="redis_sentinel_master_ckquorum_status{@{selector}} == 0",
        summary="Sentinels cannot fail over a master.",
        description=(
            "SENTINEL CKQUORUM {{ $labels.master_name }} fails on {{ $labels.instance }}:"
            " {{ $labels.message }}"
        ),
        category="sentinel",
        action=(
            "bring sentinels back until SENTINEL CKQUORUM says OK; check port 26379 between them"
        ),
        check=_quorum_lost,
    ),
    AlertDef(
        name="RedisSentinelTilt",
        expr="redis_sentinel_tilt{@{selector}} == 1",
        summary="A sentinel is in TILT mode.",
        description=(
            "Sentinel {{ $labels.instance }} has been in TILT mode for more than @{for}; it"
            " does not act on failures while its clock or scheduling misbehaves."
        ),
        category="sentinel",
        action="find what stalls the host (CPU starvation, VM pauses, clock steps)",
        check=_tilt,
    ),
    AlertDef(
        name="RedisSentinelFailover",
        expr=(
            "max without (master_address) (redis_sentinel_master_config_epoch{@{selector}})\n"
            "> max without (master_address)"
            " (redis_sentinel_master_config_epoch{@{selector}} offset @{window})"
        ),
        summary="Sentinel failed over a master.",
        description=(
            "Sentinel {{ $labels.instance }} saw master {{ $labels.master_name }} fail over in"
            " the last @{window} (config epoch now {{ $value }})."
        ),
        category="sentinel",
        action=(
            "check that clients follow the new master, find why the old one failed, and bring it "
            "back as a replica"
        ),
        unjudged=(
            "it needs history: the config epoch grew within its window, which two samples "
            "cannot show"
        ),
    ),
)
