"""Pure checks of the audit's contract: exact fix lines, and blind checks reported as not run."""

from __future__ import annotations

import pytest
from cachescope.alerts.audits.model import FIX_SEPARATOR, Settings, config_set
from cachescope.analyze.audit import evaluate
from cachescope.analyze.figures import Figures, SentinelMaster

pytestmark = pytest.mark.unit

PAIRS = [("requirepass", "CHANGE-ME"), ("protected-mode", "yes")]


def test_several_names_are_one_config_set_on_7_and_separated_commands_before() -> None:
    assert config_set({"redis_version": "7.0.15"}, PAIRS) == (
        "CONFIG SET requirepass CHANGE-ME protected-mode yes"
    )
    old = config_set({"redis_version": "6.2.14"}, PAIRS)
    assert old.split(FIX_SEPARATOR) == [
        "CONFIG SET requirepass CHANGE-ME",
        "CONFIG SET protected-mode yes",
    ]


def test_a_refused_acl_dryrun_makes_the_dangerous_commands_check_not_run() -> None:
    settings = Settings(
        "redis",
        {},
        {"redis_version": "7.0.15"},
        acl_user="app",
        unread_data={"acl": "ACL DRYRUN refused: NOPERM"},
    )
    found, audit = evaluate(settings, Figures("redis"))
    assert "dangerous-commands-allowed" not in audit["checked"]
    assert {"check": "dangerous-commands-allowed", "reason": "ACL DRYRUN refused: NOPERM"} in (
        audit["notRun"]
    )
    assert not [rec for rec in found if rec["check"] == "dangerous-commands-allowed"]


def test_unread_slabs_make_the_memcached_slab_checks_not_run() -> None:
    config = {"slab_reassign": "no", "slab_automove": "0", "item_size_max": "1048576"}
    settings = Settings("memcached", config, {}, unread_data={"slabs": "stats slabs refused"})
    _, audit = evaluate(settings, Figures("memcached"))
    not_run = {entry["check"] for entry in audit["notRun"]}
    assert {"memcached-slab-imbalance", "memcached-item-size"} <= not_run


def test_two_sentinels_get_the_sentinel_conf_line_of_a_third() -> None:
    master = SentinelMaster("mymaster", True, False, 2.0, 2.0, True, address="10.0.0.1:6379")
    figures = Figures("redis", sentinel_masters=[master])
    found, _ = evaluate(Settings("redis", {}, {"redis_mode": "sentinel"}), figures)
    quorum = next(rec for rec in found if rec["check"] == "sentinel-quorum")
    assert quorum["fix"] == "sentinel monitor mymaster 10.0.0.1 6379 2"
    assert "#" not in quorum["fix"]
