"""Durations as Go's time.ParseDuration writes them, which the peers' flags take."""

from __future__ import annotations

from pathlib import Path

import pytest
from cachescope.config.loader import load_config
from cachescope.config.schema import ANY_DURATION, parse_duration
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1m30s", 90.0),
        ("2m0s", 120.0),  # how Go prints a duration (time.Duration.String)
        ("1h2m3.5s", 3723.5),
        ("500ms", 0.5),
        ("1500000us", 1.5),
        (".5s", 0.5),
        ("+2s", 2.0),
        ("5", 5.0),  # a bare number is seconds, as before
    ],
)
def test_a_go_compound_duration_is_read_as_go_reads_it(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["1m30", "5 s", "1.5.5s", "ms", "1d", "2e3", "-1m30s", "0h0m"])
def test_a_duration_go_would_refuse_or_out_of_range_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="must be a duration"):
        parse_duration(text)


@given(
    hours=st.integers(0, 23),
    minutes=st.integers(0, 59),
    millis=st.integers(0, 59_999),
)
def test_any_duration_as_go_prints_it_reads_back(hours: int, minutes: int, millis: int) -> None:
    total = hours * 3600 + minutes * 60 + millis / 1000
    if not ANY_DURATION.low <= total <= ANY_DURATION.high:
        return
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if hours or minutes else "")
    text += f"{millis / 1000:g}s"
    assert parse_duration(text) == pytest.approx(total)


def test_a_compound_duration_in_the_config_file_is_accepted(tmp_path: Path) -> None:
    config = tmp_path / "cachescope.yml"
    config.write_text("targets:\n  - uri: redis://127.0.0.1:6379\n    timeout: 1m30s\n")
    assert load_config(str(config)).targets[0].timeout == pytest.approx(90.0)
