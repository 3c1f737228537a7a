"""Basic auth on the exporter's endpoints: no crash, no user-name oracle, no CPU burn."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import bcrypt
import pytest
from cachescope import basicauth
from cachescope.basicauth import CheckBudget, Outcome
from cachescope.webconfig import WebConfig, load_web_config
from cachescope.yamlmarks import ConfigError
from hypothesis import given, settings
from hypothesis import strategies as st

PASSWORD = "right-Passw0rd"


def hashed(password: str = PASSWORD, cost: int = 4) -> bytes:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=cost))


def basic(user: str | bytes, password: str | bytes, scheme: str = "Basic") -> str:
    raw = (user if isinstance(user, bytes) else user.encode()) + b":"
    raw += password if isinstance(password, bytes) else password.encode()
    return f"{scheme} {base64.b64encode(raw).decode()}"


def web(**users: bytes) -> WebConfig:
    return WebConfig(users=dict(users))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_right_password_passes_and_anything_else_does_not() -> None:
    config = web(prometheus=hashed())
    assert config.authorized(basic("prometheus", PASSWORD))
    assert not config.authorized(basic("prometheus", "wrong"))
    assert not config.authorized(basic("nobody", PASSWORD))
    assert not config.authorized(None)


def test_passwords_longer_than_bcrypt_checks_are_refused_not_truncated() -> None:
    long_password = "p" * 72
    config = web(prometheus=hashed(long_password))
    assert config.authorized(basic("prometheus", long_password))
    for extra in ("x", "p" * 928):  # 73 and 1,000 bytes: bcrypt 4 would match on the first 72
        assert not config.authorized(basic("prometheus", long_password + extra))
    assert not config.authorized(basic("prometheus", "é" * 37))  # 74 bytes in UTF-8


@pytest.mark.parametrize("scheme", ["basic", "BASIC", "bAsIc"])
def test_the_scheme_is_case_insensitive(scheme: str) -> None:
    assert web(prometheus=hashed()).authorized(basic("prometheus", PASSWORD, scheme))


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Basic",
        "Basic ",
        "Basic !!!!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"prometheus:\xff\xfe").decode(),
        "Basic " + base64.b64encode(b"\xffuser:pw").decode(),
        "Basic cHJvbWV0aGV1cz",  # missing padding
        "Basic é",  # not ASCII
        "Bearer " + base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode(),
        "Basic " + "A" * 100_000,
    ],
)
def test_malformed_headers_are_refused_without_an_exception(header: str) -> None:
    assert web(prometheus=hashed()).check(header) is Outcome.DENIED


@settings(max_examples=200, deadline=None)
@given(header=st.one_of(st.none(), st.text(), st.binary().map(lambda b: basic("x", b))))
def test_any_header_gives_an_answer_never_an_exception(header: str | None) -> None:
    assert isinstance(CONFIG_FOR_FUZZ.authorized(header), bool)


CONFIG_FOR_FUZZ = WebConfig(users={"x": hashed("pw")}, budget=CheckBudget(rate=1e9, burst=1e9))


def test_the_dummy_hash_for_unknown_users_costs_what_the_configured_ones_cost() -> None:
    for cost in (4, 6):
        config = web(prometheus=hashed(cost=cost))
        assert basicauth.hash_cost(config.dummy_hash) == cost
        assert not config.authorized(basic("nobody", PASSWORD))
    mixed = web(a=hashed(cost=4), b=hashed(cost=7))
    assert basicauth.hash_cost(mixed.dummy_hash) == 7


def test_a_flood_of_wrong_passwords_runs_a_bounded_number_of_bcrypt_checks() -> None:
    clock = FakeClock()
    # Cost 4 is 1/64 of a cost-10 check: a burst of 0.5 allows 32 checks and no more
    # until the clock moves; each second then allows 64 more (up to the burst).
    config = WebConfig(
        users={"prometheus": hashed()}, budget=CheckBudget(rate=1.0, burst=0.5, clock=clock)
    )
    assert config.authorized(basic("prometheus", PASSWORD))  # remembered before the flood
    before = basicauth.STATS.checks
    outcomes = [config.check(basic("prometheus", f"wrong-{i}")) for i in range(500)]
    ran = basicauth.STATS.checks - before
    assert ran == 31  # 32 tokens, one spent on the right password above
    assert outcomes.count(Outcome.THROTTLED) == 500 - 31
    assert config.authorized(basic("prometheus", PASSWORD))  # at once: no check needed
    assert basicauth.STATS.checks - before == 31
    clock.now += 0.25  # a quarter of a token: 16 checks at cost 4
    for i in range(500, 1000):
        config.check(basic("prometheus", f"wrong-{i}"))
    assert basicauth.STATS.checks - before == 31 + 16


def test_a_repeated_wrong_password_is_checked_once() -> None:
    config = web(prometheus=hashed())
    before = basicauth.STATS.checks
    for _ in range(20):
        assert config.check(basic("prometheus", "wrong")) is Outcome.DENIED
        assert config.check(basic("ghost", "wrong")) is Outcome.DENIED
    assert basicauth.STATS.checks - before == 2


def test_failures_never_evict_the_remembered_right_answer() -> None:
    config = WebConfig(users={"prometheus": hashed()}, budget=CheckBudget(rate=1e9, burst=1e9))
    assert config.authorized(basic("prometheus", PASSWORD))
    for i in range(5000):
        config.check(basic("ghost", f"wrong-{i}"))
    before = basicauth.STATS.checks
    assert config.authorized(basic("prometheus", PASSWORD))
    assert basicauth.STATS.checks == before


def test_concurrent_checks_use_one_core_at_most() -> None:
    config = WebConfig(users={"p": hashed(cost=6)}, budget=CheckBudget(rate=1e9, burst=1e9))
    active = peak = 0
    lock = threading.Lock()
    original = basicauth._checkpw

    def counting(password: bytes, hashed_value: bytes) -> bool:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        try:
            return original(password, hashed_value)
        finally:
            with lock:
                active -= 1

    basicauth._checkpw = counting
    try:
        threads = [
            threading.Thread(target=config.check, args=(basic("p", f"w{i}"),)) for i in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        basicauth._checkpw = original
    assert peak == 1


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "web.yml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    "value, why",
    [
        ("plaintext-password", "bcrypt hash"),
        ("$2x$04$" + "a" * 53, "bcrypt hash"),
        ("$1$abc$def", "bcrypt hash"),
        ("$2y$03$" + "a" * 53, "cost"),
        ("$2y$32$" + "a" * 53, "cost"),
        ("$2y$10$" + "!" * 53, "bcrypt hash"),
        ("$2y$10$" + "a" * 52, "bcrypt hash"),
        ("$2b$04$guIjbjuhTFR0VB1Xbi99XzBWQ4pgQDz8HBmR6Mbg0Gc2KpjY1QKgK", "salt"),
        ("12", "bcrypt hash"),
    ],
)
def test_a_malformed_hash_is_a_located_config_error(tmp_path: Path, value: str, why: str) -> None:
    path = write(
        tmp_path, f"# web\nbasic_auth_users:\n  ok: '{hashed().decode()}'\n  bad: '{value}'\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_web_config(path)
    assert (raised.value.source, raised.value.line) == (path, 4)
    assert raised.value.field == "basic_auth_users.bad"
    assert why in raised.value.message
    assert value not in str(raised.value)


def test_a_user_name_with_a_colon_is_a_config_error(tmp_path: Path) -> None:
    path = write(tmp_path, f"basic_auth_users:\n  'a:b': '{hashed().decode()}'\n")
    with pytest.raises(ConfigError, match="basic_auth_users.a:b"):
        load_web_config(path)


def test_a_loaded_config_authenticates(tmp_path: Path) -> None:
    path = write(tmp_path, f"basic_auth_users:\n  prometheus: '{hashed(cost=5).decode()}'\n")
    config = load_web_config(path)
    assert config.authorized(basic("prometheus", PASSWORD))
    assert basicauth.hash_cost(config.dummy_hash) == 5
