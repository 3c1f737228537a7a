"""LATENCY HISTOGRAM replies, canned: Redis' shape becomes bounded, cumulative histograms."""

from __future__ import annotations

import pytest
from cachescope.errors import ScrapeError
from cachescope.exposition.families import MetricSet
from cachescope.redis.guard import MAX_ELEMENTS, GuardedReader
from cachescope.redis.latency_histogram import (
    LADDER,
    LEFT_OUT,
    MAX_BUCKETS,
    MAX_COMMANDS,
    NAME,
    CommandTime,
    Sampler,
    add_histograms,
    parse_latency_histogram,
)
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families


def entry(cmd: bytes, calls: int, buckets: list[tuple[int, int]]) -> list[object]:
    """One command as Redis writes it in RESP2: name, then [calls n histogram_usec [...]]."""
    flat: list[object] = [number for pair in buckets for number in pair]
    return [cmd, [b"calls", calls, b"histogram_usec", flat]]


# What Redis 7.0 answered after 50 GETs and a CONFIG GET (counts already cumulative).
REAL = entry(b"get", 50, [(4, 40), (8, 50)]) + entry(b"config|get", 1, [(16, 1)])


def test_redis_reply_gives_cumulative_buckets_and_calls() -> None:
    parsed = parse_latency_histogram(REAL)
    assert [(c.cmd, c.calls, c.buckets) for c in parsed.commands] == [
        ("get", 50, ((4, 40), (8, 50))),
        ("config|get", 1, ((16, 1),)),
    ]
    assert (parsed.over_cap, parsed.malformed) == (0, 0)


def test_exposition_has_buckets_inf_sum_from_commandstats_and_count() -> None:
    metrics = MetricSet((("instance", "a"),))
    fields = {
        "cmdstat_get": "calls=50,usec=194,usec_per_call=3.88",
        "cmdstat_config|get": "usec=14",
    }
    add_histograms(metrics, REAL, fields)
    text = metrics.encode().decode()
    assert "# TYPE redis_commands_latencies_usec histogram\n" in text
    assert 'redis_commands_latencies_usec_bucket{instance="a",cmd="get",le="4"} 40\n' in text
    assert 'redis_commands_latencies_usec_bucket{instance="a",cmd="get",le="+Inf"} 50\n' in text
    assert 'redis_commands_latencies_usec_sum{instance="a",cmd="get"} 194\n' in text
    assert 'redis_commands_latencies_usec_count{instance="a",cmd="get"} 50\n' in text
    assert 'redis_commands_latencies_usec_sum{instance="a",cmd="config|get"} 14\n' in text


def test_exposition_reads_back_with_prometheus_client_parser() -> None:
    metrics = MetricSet()
    add_histograms(metrics, REAL, {})
    families = {f.name: f for f in text_string_to_metric_families(metrics.encode().decode())}
    histogram = families[NAME]
    assert histogram.type == "histogram"
    buckets = [
        s for s in histogram.samples if s.name.endswith("_bucket") and s.labels["cmd"] == "get"
    ]
    # Every bound of the ladder, Redis' own 4 and 8 among them with its counts.
    expected = [(str(b), 0 if b < 4 else 40 if b == 4 else 50) for b in LADDER]
    assert [(s.labels["le"], s.value) for s in buckets] == [*expected, ("+Inf", 50)]


def test_sum_adds_subcommands_to_their_container_as_redis_exporter() -> None:
    fields = {
        "cmdstat_config|get": "calls=1,usec=14,usec_per_call=14.00",
        "cmdstat_config|set": "calls=1,usec=6,usec_per_call=6.00",
        "cmdstat_getex": "calls=1,usec=100,usec_per_call=100.00",
        "cmdstat_get": "calls=1,usec=3,usec_per_call=3.00",
    }
    time = CommandTime(fields)
    assert [time.usec(cmd) for cmd in ("config|get", "config", "getex", "get", "del")] == [
        14,
        20,
        100,
        3,
        0,
    ]


def test_commands_beyond_the_cap_are_the_least_called_and_counted() -> None:
    reply: list[object] = []
    for index in range(MAX_COMMANDS + 37):
        reply += entry(b"c%d" % index, index + 1, [(1, index + 1)])
    parsed = parse_latency_histogram(reply)
    assert len(parsed.commands) == MAX_COMMANDS
    assert parsed.over_cap == 37
    assert min(c.calls for c in parsed.commands) == 38  # c0..c36, the least called, left out
    metrics = MetricSet()
    add_histograms(metrics, reply, {})
    left_out = metrics.get(LEFT_OUT)
    assert left_out is not None
    assert {s.labels: s.value for s in left_out.samples} == {
        '{reason="over_cap"}': 37,
        '{reason="malformed"}': 0,
    }


def test_uncalled_commands_are_left_out_without_counting() -> None:
    parsed = parse_latency_histogram(entry(b"get", 0, []) + entry(b"set", 2, [(2, 2)]))
    assert [c.cmd for c in parsed.commands] == ["set"]
    assert (parsed.over_cap, parsed.malformed) == (0, 0)


def test_buckets_that_fall_or_repeat_a_bound_are_malformed() -> None:
    falling = entry(b"get", 5, [(1, 5), (2, 3)])
    repeated = entry(b"set", 5, [(4, 1), (4, 5)])
    parsed = parse_latency_histogram(falling + repeated + entry(b"del", 1, [(8, 1)]))
    assert [c.cmd for c in parsed.commands] == ["del"]
    assert parsed.malformed == 2


def test_too_many_buckets_is_malformed() -> None:
    many = [(2**i, i + 1) for i in range(MAX_BUCKETS + 1)]
    assert parse_latency_histogram(entry(b"get", 100, many)).malformed == 1


def test_count_never_below_the_last_bucket() -> None:
    (command,) = parse_latency_histogram(entry(b"get", 3, [(4, 7)])).commands
    assert command.calls == 7


def test_nested_where_numbers_belong_is_malformed_not_an_error() -> None:
    deep: object = [1, 2]
    for _ in range(200):
        deep = [deep, deep]  # shared, so huge to walk but cheap to build
    reply = [
        b"get",
        [b"calls", deep, b"histogram_usec", [1, 1]],
        b"set",
        [b"calls", 1, b"histogram_usec", [deep, 1]],
        b"del",
        deep,
        deep,
        [b"calls", 1, b"histogram_usec", [1, 1]],
        b"x" * 1000,
        [b"calls", 1, b"histogram_usec", [1, 1]],
    ]
    parsed = parse_latency_histogram(reply)
    assert parsed.commands == ()
    assert parsed.malformed == 5


@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.binary(max_size=8),
        st.recursive(
            st.one_of(st.integers(-5, 2**64), st.binary(max_size=12), st.none()),
            lambda inner: st.lists(inner, max_size=6),
            max_leaves=40,
        ),
    )
)
def test_any_reply_parses_without_raising_into_rising_buckets(reply: object) -> None:
    parsed = parse_latency_histogram(reply)
    assert len(parsed.commands) <= MAX_COMMANDS
    for command in parsed.commands:
        bounds = [bound for bound, _ in command.buckets]
        counts = [count for _, count in command.buckets]
        assert bounds == sorted(set(bounds)) and all(bound > 0 for bound in bounds)
        assert counts == sorted(counts) and command.calls >= (counts[-1] if counts else 0)


_BUCKETS = st.lists(st.integers(0, 1000), min_size=1, max_size=MAX_BUCKETS).map(
    lambda steps: [(2**i, sum(steps[: i + 1])) for i in range(len(steps))]
)


@given(st.dictionaries(st.from_regex(r"[a-z]{1,12}", fullmatch=True), _BUCKETS, max_size=30))
def test_well_formed_replies_round_trip(commands: dict[str, list[tuple[int, int]]]) -> None:
    reply: list[object] = []
    for cmd, buckets in commands.items():
        reply += entry(cmd.encode(), buckets[-1][1], buckets)
    parsed = parse_latency_histogram(reply)
    expected = {cmd: tuple(b) for cmd, b in commands.items() if b[-1][1] > 0}
    assert {c.cmd: c.buckets for c in parsed.commands} == expected
    assert parsed.malformed == 0


def test_guard_skips_runs_of_integers_but_not_the_header_after_them() -> None:
    buckets = b"".join(b":%d\r\n" % n for n in range(40))
    reader = GuardedReader()
    reader.feed(b"*41\r\n" + buckets + b"$3\r\nget\r\n")
    assert reader.gets() == [*range(40), b"get"]
    reader = GuardedReader()
    with pytest.raises(ScrapeError, match=str(MAX_ELEMENTS + 1)):
        reader.feed(b"*41\r\n" + buckets + b"*%d\r\n" % (MAX_ELEMENTS + 1))


def test_sampler_asks_every_nth_and_repeats_the_last_in_between() -> None:
    sampler = Sampler(3)
    base = (("instance", "a"),)
    exported = []
    for scrape in range(7):
        metrics = MetricSet(base)
        asked = sampler.due(base)
        calls = scrape + 1
        sampler.add(metrics, entry(b"get", calls, [(4, calls)]) if asked else None, {})
        family = metrics.get(NAME)
        assert family is not None
        exported.append((asked, family.samples[-1].value))  # _count
    assert exported == [
        (True, 1),
        (False, 1),
        (False, 1),
        (True, 4),
        (False, 4),
        (False, 4),
        (True, 7),
    ]


def test_sampler_keeps_one_rendering_per_base_labels_and_forgets_on_reconnect() -> None:
    sampler = Sampler(10)
    on_metrics, on_scrape = (("instance", "a"),), ()
    sampler.add(MetricSet(on_metrics), REAL, {})
    assert not sampler.due(on_metrics)
    assert sampler.due(on_scrape)  # /scrape renders without the instance label: its own ask
    sampler.add(MetricSet(on_scrape), REAL, {})
    assert not sampler.due(on_scrape) and not sampler.due(on_metrics)
    role = (("instance", "a"), ("instance_role", "slave"))
    unasked = MetricSet(role)
    sampler.add(unasked, None, {})  # never asked with these labels: nothing rather than wrong
    assert unasked.get(NAME) is None
    sampler.forget()
    assert sampler.due(on_metrics) and sampler.due(on_scrape)


def test_buckets_go_out_on_the_whole_ladder_with_the_running_count() -> None:
    """Bounds Redis left out carry the count below them; one off the ladder counts at the
    next bound up, one above the top only in +Inf: cumulative on every node alike."""
    (command,) = parse_latency_histogram(
        entry(b"get", 9, [(2, 3), (5, 4), (132, 6), (2**40, 9)])
    ).commands
    filled = dict(zip(LADDER, command.on_ladder(), strict=True))
    assert [filled[b] for b in (1, 2, 4, 8, 66, 132, 264, LADDER[-1])] == [0, 3, 3, 4, 4, 6, 6, 6]
    assert command.calls == 9


def test_a_command_named_twice_keeps_the_first_and_counts_the_rest_malformed() -> None:
    reply = entry(b"get", 2, [(4, 2)]) + entry(b"GET", 5, [(4, 5)]) + entry(b"get", 1, [(1, 1)])
    parsed = parse_latency_histogram(reply)
    assert [(c.cmd, c.calls) for c in parsed.commands] == [("get", 2)]
    assert parsed.malformed == 2


@given(st.lists(st.sampled_from([b"get", b"set", b"GET", b"del"]), max_size=12))
def test_no_command_twice_whatever_the_reply_repeats(names: list[bytes]) -> None:
    reply: list[object] = []
    for index, name in enumerate(names):
        reply += entry(name, index + 1, [(4, index + 1)])
    parsed = parse_latency_histogram(reply)
    cmds = [c.cmd for c in parsed.commands]
    assert len(cmds) == len(set(cmds)) == len({name.lower() for name in names})
    assert parsed.malformed == len(names) - len(cmds)
