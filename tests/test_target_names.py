"""Target names: the default name of a target, and what /discover gives Prometheus.

A target's name is its `instance` on /metrics; /discover must hand Prometheus the same name,
and the per-target labels only as `__meta_cachescope_label_*` (the /scrape body carries them,
so a plain target label would come back as `exported_<label>`).
"""

from __future__ import annotations

import pytest
from cachescope.config.flags import TargetFlags
from cachescope.config.loader import parse_config
from cachescope.config.targets import parse_uri
from cachescope.fleet import Fleet
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit


def test_two_databases_of_one_host_without_names_get_distinct_default_names() -> None:
    config = parse_config(
        "targets:\n  - uri: redis://h.example:6379/0\n  - uri: redis://h.example:6379/1\n"
        "  - uri: unix:///run/r.sock?db=2\n  - uri: unix:///run/r.sock\n"
    )
    names = [target.name for target in config.targets]
    # db 0 keeps host:port, so the series of existing targets keep their instance.
    assert names == ["h.example:6379", "h.example:6379/1", "/run/r.sock?db=2", "/run/r.sock"]


def test_a_written_name_that_clashes_with_a_default_name_is_still_refused() -> None:
    text = "targets:\n  - uri: redis://h:6379/1\n  - uri: redis://h:6380\n    name: h:6379/1\n"
    with pytest.raises(Exception, match="duplicate target name 'h:6379/1'"):
        parse_config(text)


def test_target_flags_for_two_databases_keep_both() -> None:
    flags = TargetFlags(
        config_file=None,
        targets=("redis://127.0.0.1:6379/0 redis://127.0.0.1:6379/3",),
        user=None,
        password_file=None,
        timeout="1s",
        allow=(),
    )
    names = [target.name for target in flags.load().targets]
    assert names == ["127.0.0.1:6379", "127.0.0.1:6379/3"]


@given(
    host=st.sampled_from(["h", "cache-a.internal", "10.0.0.1", "::1"]),
    port=st.integers(1, 65535),
    db=st.integers(0, 99),
)
def test_a_default_name_reads_back_as_its_own_endpoint(host: str, port: int, db: int) -> None:
    """/scrape?target=<default name> reaches the same cache even where the name is unknown."""
    shown = f"[{host}]" if ":" in host else host
    endpoint = parse_uri(f"redis://{shown}:{port}/{db}")
    assert parse_uri(endpoint.default_name()).key() == endpoint.key()
    other = parse_uri(f"redis://{shown}:{port}/{db + 1}")
    assert other.default_name() != endpoint.default_name()  # no "duplicate target name"


def test_discover_offers_the_name_as_target_and_labels_only_as_meta() -> None:
    config = parse_config(
        "targets:\n  - uri: redis://user:secret@127.0.0.1:1/2\n    name: orders\n"
        "    labels: {team: payments, uri: x}\n  - uri: memcached://127.0.0.1:2\n"
    )
    fleet = Fleet(config)
    try:
        groups = fleet.service_discovery()
    finally:
        fleet.close()
    assert groups[0] == {
        "targets": ["orders"],
        "labels": {
            "__meta_cachescope_name": "orders",
            "__meta_cachescope_target_name": "orders",  # the old spelling, still offered
            "__meta_cachescope_uri": "redis://user@127.0.0.1:1/2",
            "__meta_cachescope_label_team": "payments",
            "__meta_cachescope_label_uri": "x",
        },
    }
    assert groups[1]["targets"] == ["127.0.0.1:2"]
    assert all(key.startswith("__meta_") for g in groups for key in g["labels"])  # type: ignore[attr-defined]
