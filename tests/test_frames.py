"""A worker's report crosses the process boundary as records in columns, and comes back whole."""

from __future__ import annotations

import pickle

import pytest
from cachescope.exposition.joined import Sizes
from cachescope.scrape.state import Outcome
from cachescope.workers.frames import Outcomes, Report
from hypothesis import given
from hypothesis import strategies as st

pytestmark = pytest.mark.unit

_OUTCOMES = st.lists(
    st.tuples(
        st.integers(0, 10_000),
        st.builds(
            Outcome,
            st.sampled_from([0.0, 1.0]),
            st.floats(allow_nan=False),
            st.floats(0, 60),
            st.text(max_size=8),
            st.text(max_size=40),
        ),
    ),
    max_size=50,
)


@given(_OUTCOMES)
def test_outcomes_come_back_from_a_pickled_report_with_their_positions(
    scraped: list[tuple[int, Outcome]],
) -> None:
    outcomes = Outcomes.empty()
    for position, outcome in scraped:
        outcomes.add(position, outcome)
    report = Report(Sizes(["a_up"], [b"# TYPE a_up gauge\n"], [9]), outcomes)
    back = pickle.loads(pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL))
    assert list(zip(back.outcomes.positions, back.outcomes.records(), strict=True)) == scraped
    assert back.families == report.families


def test_a_report_pickles_as_a_few_objects_not_one_per_target() -> None:
    """Why columns: 250 outcomes must not each pickle as a NamedTuple (a Python call each)."""
    outcomes = Outcomes.empty()
    for position in range(250):
        outcomes.add(position, Outcome(1.0, 1.7e9, 0.001))
    pickled = pickle.dumps(Report(Sizes([], [], []), outcomes), protocol=5)
    assert b"cachescope.scrape.state" not in pickled  # no Outcome per target
