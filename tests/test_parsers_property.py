"""Property tests on every parser: random and mutated replies never break a scrape.

A hostile or broken server controls every byte we parse. Whatever it sends, the
parsers and metric builders must not raise (except the one documented
ProtocolError of the Memcached reader), must give only valid metric and label
names, must render an exposition that parses line by line, and must not turn
bad input into NaN. Seeds for mutation are the canned replies of the other
parser tests. Derandomized and database-free, so CI sees the same examples.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from cachescope.exposition.families import MetricSet, render
from cachescope.memcached import fields as memcached_fields
from cachescope.memcached import sections as memcached_sections
from cachescope.memcached.parse import (
    ProtocolError,
    ReplyError,
    ReplyReader,
    Status,
    split_items,
    split_slabs,
)
from cachescope.redis import cluster, sections, sentinel
from cachescope.redis.fields import FIELDS
from cachescope.redis.parse import (
    parse_config_get,
    parse_info,
    parse_kv,
    parse_latency_latest,
    parse_slowlog_entry,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).parent / "fixtures"
CONFIG_METRICS = ("maxmemory", "maxclients", "io-threads")

# No shrinking: the examples known to fail are pinned in FOUND below, and shrinking
# them again on every run would cost CI minutes.
fast = settings(
    max_examples=40,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# What a hostile server sends: numbers in every spelling float() takes, and text.
_NUMBER_SPELLINGS = ["0", "1", "-1", "42", "3.5", "1e3", "1e400", "-1e400", "0x10", "1_000"]
_NON_FINITE = ["nan", "NaN", "-nan", "inf", "-inf", "Infinity"]
numbers = st.one_of(
    st.integers(-(2**63), 2**63 - 1).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(_NUMBER_SPELLINGS + _NON_FINITE),
)
texts = st.text(max_size=12)
values = st.one_of(numbers, texts, st.sampled_from(["ok", "err", "up", "down", "yes", "no", ""]))

_KV_KEYS = [
    "calls", "usec", "rejected_calls", "failed_calls", "count", "keys", "expires", "avg_ttl",
    "ip", "port", "state", "offset", "lag", "p50", "p99", "p99.9", "name", "address",
    "status", "slaves", "sentinels", "ver", "api",
]  # fmt: skip
kv_values = st.lists(
    st.tuples(st.one_of(st.sampled_from(_KV_KEYS), texts), values), max_size=6
).map(lambda pairs: ",".join(f"{k}={v}" for k, v in pairs))

_INFO_KEYS = sorted(FIELDS) + [
    "role", "redis_version", "redis_mode", "server_mode", "cluster_enabled", "os",
    "maxmemory_policy", "run_id", "master_replid", "uptime_in_seconds", "master_repl_offset",
    "master_host", "master_port", "master_link_status", "master_last_io_seconds_ago",
    "master_sync_in_progress", "slave_repl_offset", "slave_read_only", "module", "db0", "db15",
    "slave0", "slave1", "master0", "master1", "cmdstat_get", "cmdstat_set", "errorstat_ERR",
    "errorstat_OOM", "latency_percentiles_usec_get", "maxmemory", "maxclients",
    "used_memory_human", "cmd_GET", "unknown_FOO", "server_name", "valkey_version",
]  # fmt: skip
_INFO_PREFIXES = ["cmdstat_", "errorstat_", "db", "slave", "master", "latency_percentiles_usec_"]
info_keys = st.one_of(
    st.sampled_from(_INFO_KEYS),
    st.tuples(st.sampled_from(_INFO_PREFIXES), texts).map("".join),
    texts,
)
_SECTIONS = ["Server", "Replication", "Stats", "Keyspace", "Commandstats", "Errorstats", "Modules"]
info_lines = st.one_of(
    st.tuples(info_keys, st.one_of(values, kv_values)).map(lambda kv: f"{kv[0]}:{kv[1]}"),
    st.sampled_from(_SECTIONS).map(lambda name: f"# {name}"),
    texts,
)
random_info = st.lists(info_lines, max_size=30).map(lambda lines: "\r\n".join(lines).encode())


def _seeds() -> list[bytes]:
    found = [
        path.read_text().replace("\n", "\r\n").encode() for path in sorted(FIXTURES.glob("*.txt"))
    ]
    assert found, f"no INFO fixtures in {FIXTURES}"
    return found


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few bytes deleted, replaced, inserted, or the end cut off."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["delete", "replace", "insert", "cut"]))
        chunk = draw(st.binary(max_size=8) | st.sampled_from([b"\r\n", b":", b",", b"=", b"#"]))
        if op == "delete":
            del data[at : at + len(chunk) + 1]
        elif op == "replace":
            data[at : at + len(chunk)] = chunk
        elif op == "insert":
            data[at:at] = chunk
        else:
            del data[at:]
    return bytes(data)


info_replies = st.one_of(random_info, mutated(_seeds()), st.binary(max_size=200))

# RESP replies as hiredis hands them over: bytes, ints, errors, nil, nested lists.
resp = st.recursive(
    st.one_of(
        st.binary(max_size=10),
        st.integers(-(2**63), 2**63 - 1),
        st.none(),
        st.sampled_from([b"name", b"ip", b"port", b"flags", b"s_down,o_down", b"quorum", b"2"]),
    ),
    lambda children: st.lists(children, max_size=6),
    max_leaves=30,
)

# The text exposition format, line by line (Prometheus text format 0.0.4).
METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_LABEL_PAIR = r'([^=",{}]*)="((?:[^"\\\n]|\\[\\"n])*)"'
_SAMPLE = re.compile(r"^([^{} ]+)(?:\{(.*)\})? (\S+)$")
_TYPES = {"counter", "gauge", "summary", "histogram", "untyped"}


def check_exposition(metrics: MetricSet) -> None:
    """Render `metrics` and check every line as Prometheus' text parser would."""
    text = render(metrics)
    assert text == "" or text.endswith("\n")
    typed: dict[str, str] = {}
    family = ""
    for line in text.split("\n")[:-1]:  # \n is the only line end of the format
        if line.startswith("# HELP "):
            family = line.split(" ", 3)[2]
            assert METRIC_NAME.match(family), f"invalid metric name in {line!r}"
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert name == family and kind in _TYPES, line
            assert name not in typed, f"family {name} declared twice"
            typed[name] = kind
        else:
            match = _SAMPLE.match(line)
            assert match, f"unparsable sample line {line!r}"
            name, labels, value = match.groups()
            assert METRIC_NAME.match(name), f"invalid metric name {name!r}"
            allowed = {family} | ({family + "_sum", family + "_count"} if typed else set())
            assert name in allowed, f"sample {name} outside its family {family}"
            _check_labels(labels or "", line)
            number = float(value)  # NaN, +Inf, -Inf and numbers all parse
            assert not math.isnan(number), f"NaN from bad input: {line!r}"


def _check_labels(labels: str, line: str) -> None:
    pairs = re.findall(_LABEL_PAIR, labels)
    rebuilt = ",".join(f'{k}="{v}"' for k, v in pairs)
    assert rebuilt == labels, f"label set does not parse: {line!r}"
    names = [name for name, _ in pairs]
    for name in names:
        assert LABEL_NAME.match(name), f"invalid label name {name!r} in {line!r}"
    assert len(set(names)) == len(names), f"repeated label name in {line!r}"


def build_redis(raw: bytes, config: dict[str, str] | None = None) -> MetricSet:
    """What the Redis collector does with one INFO reply (and CONFIG GET), minus the I/O."""
    metrics = MetricSet((("instance", "cache"),))
    fields = parse_info(raw)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
    databases = sections.add_info(metrics, fields, 1_700_000_000.0)
    sections.add_config(metrics, config or {}, fields, CONFIG_METRICS)
    sections.add_keyspace(metrics, databases, 16)
    sentinel.add_sentinel_info(metrics, fields)
    return metrics


# Redis


@fast
@given(info_replies)
def test_info_reply_of_any_shape_gives_a_valid_exposition(raw: bytes) -> None:
    check_exposition(build_redis(raw))


@fast
@given(st.text(max_size=60))
def test_parse_kv_keeps_every_pair_that_has_an_equals_sign(value: str) -> None:
    parsed = parse_kv(value)
    for part in value.split(","):
        key, sep, _ = part.partition("=")
        assert (key in parsed) == bool(sep) or key in parsed
    assert all("," not in k and "," not in v for k, v in parsed.items())


@fast
@given(st.lists(resp, max_size=4), info_replies)
def test_config_get_of_any_shape_gives_strings_and_a_valid_exposition(
    replies: list[object], raw: bytes
) -> None:
    config = parse_config_get(replies)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in config.items())
    check_exposition(build_redis(raw, config))


@fast
@given(resp)
def test_slowlog_entry_of_any_shape_is_none_or_two_finite_numbers(reply: object) -> None:
    entry = parse_slowlog_entry(reply)
    assert entry is None or all(math.isfinite(x) for x in entry)


@fast
@given(resp)
def test_latency_latest_of_any_shape_gives_named_finite_events(reply: object) -> None:
    for event, when, duration in parse_latency_latest(reply):
        assert isinstance(event, str) and math.isfinite(when) and math.isfinite(duration)


_NODE_ID = st.text("0123456789abcdef", min_size=1, max_size=40)
_FLAGS = ["myself", "master", "slave", "fail", "fail?", "handshake", "noaddr", "nofailover", "-"]
_SLOTS = st.one_of(
    st.tuples(st.integers(0, 16383), st.integers(0, 16383)).map(lambda r: f"{r[0]}-{r[1]}"),
    st.integers(0, 16383).map(str),
    st.just("[93->-abc]"),
    texts,
)
node_lines = st.builds(
    lambda *parts: " ".join(str(p) for p in parts[:-1]) + " " + " ".join(parts[-1]),
    _NODE_ID,
    st.one_of(
        st.tuples(st.ip_addresses().map(str), st.integers(0, 70000), st.integers(0, 70000)).map(
            lambda a: f"{a[0]}:{a[1]}@{a[2]}"
        ),
        texts,
    ),
    st.lists(st.sampled_from(_FLAGS), min_size=1, max_size=3).map(",".join),
    st.one_of(st.just("-"), _NODE_ID),
    st.integers(0, 2**40),
    st.integers(0, 2**40),
    st.integers(0, 2**20),
    st.one_of(st.sampled_from(["connected", "disconnected"]), texts),
    st.lists(_SLOTS, max_size=4),
)
cluster_nodes = st.one_of(
    st.lists(node_lines | texts, max_size=8).map("\n".join),
    st.text(max_size=200),
)


@fast
@given(cluster_nodes)
def test_cluster_nodes_of_any_shape_parses_to_nodes_without_raising(text: str) -> None:
    for node in cluster.parse_cluster_nodes(text):
        assert node.port >= 0 and node.slots >= 0 and node.role in ("master", "slave")


@fast
@given(info_replies | st.none(), cluster_nodes.map(str.encode) | st.binary() | st.none())
def test_cluster_info_and_nodes_of_any_shape_give_a_valid_exposition(
    info: bytes | None, nodes: bytes | None
) -> None:
    metrics = MetricSet()
    cluster.add_cluster(metrics, info, nodes)
    check_exposition(metrics)


@fast
@given(resp, resp, resp, resp, st.dictionaries(st.sampled_from(_KV_KEYS) | texts, values))
def test_sentinel_replies_of_any_shape_give_a_valid_exposition(
    masters: object, ckquorum: object, replicas: object, sentinels: object, extra: dict[str, str]
) -> None:
    metrics = MetricSet()
    found = sentinel.entries(masters) + [extra]
    for master in found:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in master.items())
        sentinel.add_master_details(metrics, master, ckquorum, replicas, sentinels)
    check_exposition(metrics)


@fast
@given(st.dictionaries(st.sampled_from(["master0", "master1", "master2"]) | texts, kv_values))
def test_sentinel_info_of_any_shape_gives_a_valid_exposition(fields: dict[str, str]) -> None:
    metrics = MetricSet()
    names = sentinel.add_sentinel_info(metrics, fields)
    assert all(isinstance(name, str) for name in names)
    check_exposition(metrics)


# Memcached

_STAT_NAMES = (
    sorted(memcached_fields.STATS)
    + sorted(memcached_fields.COMMANDS)
    + sorted(memcached_fields.LRU_SETTINGS)
    + ["version", "max_connections", "active_slabs", "total_malloced", "cmd_set"]
)
_SLAB_FIELDS = sorted(memcached_fields.SLABS) + sorted(memcached_fields.SLAB_COMMANDS)
_ITEM_FIELDS = sorted(memcached_fields.ITEMS) + sorted(memcached_fields.LRU_HITS)
_slab_ids = st.one_of(st.integers(0, 63).map(str), st.text("0123456789", min_size=1), texts)
stat_names = st.one_of(
    st.sampled_from(_STAT_NAMES),
    st.tuples(_slab_ids, st.sampled_from(_SLAB_FIELDS)).map(":".join),
    st.tuples(_slab_ids, st.sampled_from(_ITEM_FIELDS)).map(lambda t: f"items:{t[0]}:{t[1]}"),
    texts,
)
stats_dicts = st.dictionaries(stat_names, values, max_size=25)


def build_memcached(stats: dict[str, str], settings_: dict[str, str], slabs: dict[str, str],
                    items: dict[str, str]) -> MetricSet:  # fmt: skip
    """What the Memcached collector does with its four replies, minus the I/O."""
    metrics = MetricSet((("instance", "sessions"),))
    per_slab, totals = split_slabs(slabs)
    memcached_sections.add_stats(metrics, {**totals, **stats})
    memcached_sections.add_settings(metrics, settings_, stats)
    memcached_sections.add_slabs(metrics, per_slab, split_items(items))
    return metrics


@fast
@given(stats_dicts, stats_dicts, stats_dicts, stats_dicts)
def test_memcached_stats_of_any_shape_give_a_valid_exposition(
    stats: dict[str, str], settings_: dict[str, str], slabs: dict[str, str], items: dict[str, str]
) -> None:
    check_exposition(build_memcached(stats, settings_, slabs, items))


_line_safe = st.text(
    st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=12
)
stat_line_names = _line_safe.filter(lambda s: " " not in s and s != "")
stats_reply = st.dictionaries(stat_line_names, _line_safe, max_size=8)
replies = st.lists(
    stats_reply | st.sampled_from(["ERROR", "CLIENT_ERROR bad command", "SERVER_ERROR busy"]),
    min_size=1,
    max_size=4,
)


def encode(reply: dict[str, str] | str) -> bytes:
    if isinstance(reply, str):
        return reply.encode() + b"\r\n"
    return b"".join(f"STAT {k} {v}\r\n".encode() for k, v in reply.items()) + b"END\r\n"


def read_all(stream: bytes, cuts: list[int]) -> list[object]:
    """Feed `stream` to a ReplyReader in chunks cut at `cuts`; every reply it gives."""
    reader, got, start = ReplyReader(), [], 0
    for end in sorted(set(cuts)) + [len(stream)]:
        reader.feed(stream[start:end])
        start = max(start, end)
        while (reply := reader.gets()) is not None:
            got.append(reply)
    return got


@fast
@given(replies, st.lists(st.integers(0, 2000), max_size=10))
def test_memcached_reader_gives_the_same_replies_however_the_bytes_are_cut(
    sent: list[dict[str, str] | str], cuts: list[int]
) -> None:
    got = read_all(b"".join(encode(r) for r in sent), cuts)
    assert len(got) == len(sent)
    for reply, expected in zip(got, sent, strict=True):
        if isinstance(expected, str):
            assert isinstance(reply, ReplyError) and reply == expected
        else:
            assert reply == expected


@fast
@given(
    st.one_of(
        st.binary(max_size=300),
        replies.map(lambda rs: b"".join(encode(r) for r in rs)).flatmap(
            lambda good: st.tuples(st.integers(0, len(good)), st.binary(max_size=6)).map(
                lambda cut: good[: cut[0]] + cut[1] + good[cut[0] :]
            )
        ),
    ),
    st.lists(st.integers(0, 400), max_size=10),
)
def test_memcached_reader_on_garbage_gives_replies_or_protocol_error_only(
    stream: bytes, cuts: list[int]
) -> None:
    try:
        got = read_all(stream, cuts)
    except ProtocolError:
        return
    for reply in got:
        assert isinstance(reply, (dict, ReplyError, Status))
        if isinstance(reply, dict):
            metrics = MetricSet()
            memcached_sections.add_stats(metrics, reply)
            check_exposition(metrics)


# Regressions found by the properties above, pinned as plain examples.

Case = Callable[[], MetricSet]
FOUND: dict[str, Case] = {
    "nan in an INFO field": lambda: build_redis(b"used_memory:nan\r\nmem_fragmentation_ratio:nan"),
    "nan in an unknown INFO field": lambda: build_redis(b"some_new_field:nan"),
    "nan in commandstats": lambda: build_redis(b"cmdstat_get:calls=nan,usec=nan"),
    "nan in a sentinel's INFO": lambda: _sentinel_info("name=m,status=ok,slaves=nan"),
    "nan in a memcached stat": lambda: build_memcached({"curr_items": "nan"}, {}, {}, {}),
    "unicode digit as a cluster port": lambda: _cluster(b"abc 10.0.0.1:\xc2\xb2@1 myself,master -"
                                                        b" 0 0 1 connected 0-1"),
    "unicode digit as a cluster slot": lambda: _cluster(b"abc 10.0.0.1:7000@1 myself,master -"
                                                        b" 0 0 1 connected \xc2\xb2-5"),
    "unicode digit as a memcached slab id": lambda: build_memcached(
        {}, {}, {"\u00b2:chunk_size": "96"}, {}
    ),
}  # fmt: skip


def _sentinel_info(master0: str) -> MetricSet:
    metrics = MetricSet()
    sentinel.add_sentinel_info(metrics, {"master0": master0})
    return metrics


def _cluster(nodes: bytes) -> MetricSet:
    metrics = MetricSet()
    cluster.add_cluster(metrics, None, nodes)
    return metrics


@pytest.mark.parametrize("case", sorted(FOUND))
def test_found_examples_give_a_valid_exposition(case: str) -> None:
    check_exposition(FOUND[case]())
