"""The scrubber: a password leaves free text and label values in any case and spelling."""

from __future__ import annotations

from urllib.parse import quote

from cachescope.config.credentials import Credentials
from cachescope.config.records import target_from_uri
from cachescope.config.targets import Secret
from cachescope.errors import MIN_SCRUBBED, ScrapeError, Scrubber, scrub, scrubbed, scrubber_for
from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import escape_label
from cachescope.scrape.state import scrub_labels
from hypothesis import given
from hypothesis import strategies as st

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
PASSWORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=4)


def with_password(password: str | None) -> Credentials:
    return Credentials(password=None if password is None else Secret(password))


@given(PASSWORDS, st.lists(st.tuples(TEXT, st.sampled_from(range(6))), max_size=4), TEXT)
def test_no_spelling_of_a_password_survives_free_text(
    password: str, pieces: list[tuple[str, int]], tail: str
) -> None:
    spellings = [
        password,
        password.upper(),
        password.lower(),
        password.swapcase(),
        quote(password, safe=""),
        escape_label(password),
    ]
    text = "".join(before + spellings[which] for before, which in pieces) + tail
    out = Scrubber.of(password).text(text)
    for spelling in spellings[1:]:
        assert spelling.casefold() not in out.casefold() or spelling.casefold() in "<redacted>"
    assert password not in out


def test_a_message_keeps_its_words_around_the_redaction() -> None:
    out = Scrubber.of("Sup3r/S#cr?t").text("ERR denied for SUP3R/S#CR?T and sup3r%2Fs%23cr%3Ft")
    assert out == "ERR denied for <redacted> and <redacted>"


def test_a_short_password_is_left_in_free_text_but_not_in_labels() -> None:
    short = "ab1"[: MIN_SCRUBBED - 1]
    scrubber = Scrubber.of(short)
    assert scrubber.text("ERR grab1 denied") == "ERR grab1 denied"  # words stay whole
    assert scrubber.label("x-AB1-y") == "x-<redacted>-y"


def test_labels_are_scrubbed_in_any_case_but_names_and_values_are_not() -> None:
    metrics = MetricSet()
    metrics.add("redis_errors_total", "counter", "Errors.", 3.0, (("err", 'LBL"PW\\9'),))
    metrics.add("redis_other", "gauge", "Other.", 1.0, (("x", "keep"),))
    scrub_labels(metrics, Scrubber.of('lbl"pw\\9'))
    text = "".join("".join(family.lines) for family in metrics.families())
    assert 'redis_errors_total{err="<redacted>"} 3' in text
    assert 'x="keep"' in text and "PW" not in text


def test_a_target_without_a_password_pays_nothing() -> None:
    target = target_from_uri("redis://127.0.0.1:1", with_password(None))
    assert scrubber_for(target) is None
    text = "ERR anything"
    assert scrub(text, target) is text
    error = ScrapeError("command", text)
    assert scrubbed(error, target) is error


def test_a_scrape_error_is_scrubbed_with_its_kind_kept() -> None:
    target = target_from_uri("redis://127.0.0.1:1", with_password("Hunter2!x"))
    error = scrubbed(ScrapeError("command", "INFO failed: ERR no HUNTER2!X here"), target)
    assert (error.kind, error.message) == ("command", "INFO failed: ERR no <redacted> here")
