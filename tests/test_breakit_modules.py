"""Break-it tests for issue 24 (module state, Redis 8.2, search index metrics), from outside.

Real servers, real exporter processes on free loopback ports, and tests/hostile.py fake
servers that list the search module and answer FT._LIST / FT.INFO as an attacker would.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hostile import HostileServer, redis_like
from matrix import REDIS_SERVERS
from prometheus_client.parser import text_string_to_metric_families
from servers import Exposition, RedisServer

pytestmark = pytest.mark.live

REDISEARCH = Path("/usr/lib/redis/modules/redisearch.so")

INFO = (
    "# Server\r\nredis_version:7.2.4\r\nredis_mode:standalone\r\n"
    "# Clients\r\nconnected_clients:1\r\n# Memory\r\nused_memory:1000\r\nmaxmemory:0\r\n"
    "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"
    "# Modules\r\nmodule:name=search,ver=20810,api=1,filters=0,usedby=[],using=[],options=[]\r\n"
    "# Keyspace\r\n"
)
MODULES = (
    "# Modules\r\nmodule:name=search,ver=20810,api=1,filters=0,usedby=[],using=[],options=[]\r\n"
    "\r\n# search\r\nsearch_number_of_indexes:1\r\n"
)


def bulk(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return b"$%d\r\n%s\r\n" % (len(data), data)


def array(*items: str) -> bytes:
    return b"*%d\r\n" % len(items) + b"".join(bulk(item) for item in items)


def ft_info(name: str) -> bytes:
    return array(
        "index_name", name, "num_docs", "5", "hash_indexing_failures", "0",
        "percent_indexed", "1", "indexing", "0", "number_of_uses", "7",
    )  # fmt: skip


def fake_search_server(
    names: list[str], ft_info_reply: Callable[[str], bytes | None] = ft_info
) -> HostileServer:
    """A Redis 7.2 with RediSearch 2.8 listed, FT._LIST giving `names`."""

    def answer(command: list[bytes]) -> bytes | None:
        name = command[0].decode().upper()
        if name == "INFO":
            modules = len(command) > 1 and command[1].upper() == b"MODULES"
            return bulk(MODULES if modules else INFO)
        if name == "FT._LIST":
            return array(*names)
        if name == "FT.INFO":
            return ft_info_reply(command[1].decode("utf-8", "replace"))
        if name in ("PING", "CLIENT"):
            return b"+OK\r\n"
        return b"-ERR unknown command '" + command[0] + b"'\r\n"

    return HostileServer(redis_like(answer))


@pytest.fixture
def fakes() -> Any:
    started: list[HostileServer] = []

    def start(*args: Any, **kwargs: Any) -> HostileServer:
        server = fake_search_server(*args, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def config(tmp_path: Path, *targets: tuple[str, list[str]]) -> str:
    lines = ["targets:"]
    for uri, indexes in targets:
        listed = ", ".join("'" + name.replace("'", "''") + "'" for name in indexes)
        lines += [f"  - uri: {uri}", f"    search_indexes: [{listed}]"]
    path = tmp_path / "cachescope.yml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def timed_metrics(exporter: Any, timeout: float) -> tuple[float, str]:
    start = time.monotonic()
    url = f"http://127.0.0.1:{exporter.port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = response.read().decode()
    except OSError as exc:
        body = f"no answer: {exc}"
    return time.monotonic() - start, body


def test_odd_index_names_from_ft_list_are_escaped_and_parse(
    fakes: Any, start_exporter: Any, tmp_path: Path
) -> None:
    """Held: quotes, backslashes, UTF-8 and 5000-character names come out as valid labels."""
    names = ['q"uote', "back\\slash", "ünï€", "x" * 5000, "sp ace"]
    fake = fakes(names + ["new\nline"])
    exporter = start_exporter(
        "--config.file", config(tmp_path, (f"redis://{fake.address}", [".*"]))
    )
    body = exporter.get("/metrics")[1]
    parsed = {
        sample.labels["index_name"]
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if family.name == "redis_search_index_num_docs"
    }
    assert parsed == set(names)  # the newline name is left out, the rest round-trip
    assert Exposition(body).value("redis_up") == 1


def test_a_catastrophic_regex_against_ft_list_names_does_not_hang_the_exporter(
    fakes: Any, start_redis: Any, start_exporter: Any, tmp_path: Path
) -> None:
    # Broke: index patterns were matched by Python's backtracking re; now RE2 (linear time).
    fake = fakes(["a" * 34 + "!"])
    healthy = start_redis()
    exporter = start_exporter(
        "--config.file",
        config(tmp_path, (f"redis://{fake.address}", ["(a+)+$"]), (healthy.uri, ["none"])),
    )
    took, body = timed_metrics(exporter, timeout=20)
    assert took < 15, f"/metrics took {took:.1f}s: {body[:200]}"
    metrics = Exposition(body)
    assert metrics.value("redis_up", instance=f"127.0.0.1:{healthy.port}") == 1


def nested(name: str) -> bytes:
    return b"*1\r\n" * 100_000 + b":1\r\n"


def huge(name: str) -> bytes:
    return b"*2\r\n" + bulk("num_docs") + bulk(b"1" * (40 << 20))


def stalls(name: str) -> bytes | None:
    return None


@pytest.mark.parametrize("reply", [nested, huge, stalls], ids=["nested", "huge", "stalls"])
def test_a_hostile_ft_info_fails_its_target_only_within_bounds(
    reply: Callable[[str], bytes | None],
    fakes: Any,
    start_redis: Any,
    start_exporter: Any,
    tmp_path: Path,
) -> None:
    """Held: redis_up 0 and an error counter for the fake; the real target stays up."""
    fake = fakes(["idx"], reply)
    healthy = start_redis()
    exporter = start_exporter(
        "--config.file",
        config(tmp_path, (f"redis://{fake.address}", ["idx"]), (healthy.uri, [])),
    )
    took, body = timed_metrics(exporter, timeout=30)
    assert took < 12
    metrics = Exposition(body)
    fake_instance = fake.address
    assert metrics.value("redis_up", instance=fake_instance) == 0
    assert sum(metrics.scrape_errors(fake_instance).values()) >= 1
    assert metrics.value("redis_up", instance=f"127.0.0.1:{healthy.port}") == 1
    assert sum(metrics.scrape_errors(f"127.0.0.1:{healthy.port}").values()) == 0
    assert "Traceback" not in exporter.log()


PLAIN = [binary for binary in REDIS_SERVERS if not binary.modules]


@pytest.mark.parametrize("binary", PLAIN, ids=[binary.id for binary in PLAIN])
def test_a_server_without_modules_is_sent_nothing_new_in_30_scrapes(
    binary: Any, start_redis: Any, start_exporter: Any, tmp_path: Path
) -> None:
    """Held: no INFO MODULES, no FT.*, no error reply across 30 scrapes, without modules."""
    server: RedisServer = start_redis(binary=binary.require())
    exporter = start_exporter("--redis.addr", server.uri)
    exporter.metrics()
    client = server.client(protocol=2)
    client.config_resetstat()
    for _ in range(30):
        exporter.metrics()
    stats = client.info("commandstats")
    assert not [name for name in stats if "ft." in name or "module" in name]
    assert stats["cmdstat_info"]["calls"] == 30
    assert int(client.info("stats")["total_error_replies"]) == 0


@pytest.mark.parametrize("binary", PLAIN, ids=[binary.id for binary in PLAIN])
def test_naming_an_index_on_a_server_without_the_module_costs_at_most_one_error(
    binary: Any, start_redis: Any, start_exporter: Any, tmp_path: Path
) -> None:
    """Held: FT.INFO refused once, not once per scrape, on 6.2, 7.0 and Valkey 8.1."""
    server: RedisServer = start_redis(binary=binary.require())
    exporter = start_exporter("--config.file", config(tmp_path, (server.uri, ["idx"])))
    exporter.metrics()
    client = server.client(protocol=2)
    before = int(client.info("stats")["total_error_replies"])
    for _ in range(30):
        metrics = exporter.metrics()
    assert int(client.info("stats")["total_error_replies"]) == before
    assert metrics.value("redis_up") == 1


def test_a_dropped_index_loses_its_series_at_once(
    start_redis: Any, start_exporter: Any, tmp_path: Path
) -> None:
    """Held: after FT.DROP, no stale redis_search_index_* series remain for it."""
    assert REDISEARCH.exists()
    server = start_redis("--loadmodule", str(REDISEARCH))
    client = server.client(protocol=2)
    client.execute_command("FT.CREATE", "gone", "SCHEMA", "t", "TEXT")
    exporter = start_exporter("--config.file", config(tmp_path, (server.uri, ["gone"])))
    assert exporter.metrics().get("redis_search_index_num_docs", index_name="gone") == [0]
    client.execute_command("FT.DROP", "gone")
    metrics = exporter.metrics()
    assert metrics.get("redis_search_index_num_docs", index_name="gone") == []
    assert metrics.value("cachescope_search_indexes_missing") == 1


def search_indexes(args: list[str], env: dict[str, str], monkeypatch: Any) -> Any:
    """What --redis.search-indexes ends up as for these flags and environment."""
    from cachescope.cli import serve

    for name in (
        "REDIS_EXPORTER_INCL_SEARCH_INDEXES_METRICS",
        "REDIS_EXPORTER_CHECK_SEARCH_INDEXES",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return serve.make_context("serve", args).params["redis_search_indexes"]


def test_redis_exporter_search_variables_alone_translate(monkeypatch: Any) -> None:
    """Held: both variables, or the switch's alone, as docs/migrating.md says."""
    on = {"REDIS_EXPORTER_INCL_SEARCH_INDEXES_METRICS": "true"}
    check = {"REDIS_EXPORTER_CHECK_SEARCH_INDEXES": "shop"}
    assert search_indexes([], on, monkeypatch) == (".*",)
    assert search_indexes([], on | check, monkeypatch) == (".*(?:shop).*",)
    assert search_indexes([], check, monkeypatch) == ()


def test_the_switch_flag_with_the_regex_variable_reads_the_regex(monkeypatch: Any) -> None:
    # Broke: a search flag on the command line hid its partner's variable (shared option).
    check = {"REDIS_EXPORTER_CHECK_SEARCH_INDEXES": "shop"}
    assert search_indexes(["--include-search-indexes-metrics"], check, monkeypatch) == (
        ".*(?:shop).*",
    )


def test_the_regex_flag_with_the_switch_variable_reads_the_regex(monkeypatch: Any) -> None:
    # Broke: the same: --check-search-indexes hid REDIS_EXPORTER_INCL_SEARCH_INDEXES_METRICS.
    on = {"REDIS_EXPORTER_INCL_SEARCH_INDEXES_METRICS": "true"}
    assert search_indexes(["--check-search-indexes=shop"], on, monkeypatch) == (".*(?:shop).*",)


SWITCH_FLAG, SWITCH_VAR = (
    "--include-search-indexes-metrics",
    "REDIS_EXPORTER_INCL_SEARCH_INDEXES_METRICS",
)
REGEX_VAR = "REDIS_EXPORTER_CHECK_SEARCH_INDEXES"


@pytest.mark.parametrize("switch_from", ["flag", "variable", "none"])
@pytest.mark.parametrize("regex_from", ["flag", "variable", "none"])
def test_each_search_flag_falls_back_to_its_own_variable(
    switch_from: str, regex_from: str, monkeypatch: Any
) -> None:
    """Every combination: the switch and the regex, each from its flag or else its variable."""
    args, env = [], {}
    if switch_from == "flag":
        args.append(SWITCH_FLAG)
    elif switch_from == "variable":
        env[SWITCH_VAR] = "true"
    if regex_from == "flag":
        args.append("--check-search-indexes=shop")
    elif regex_from == "variable":
        env[REGEX_VAR] = "shop"
    expected = {"none": (), "flag": (".*",), "variable": (".*",)}[switch_from]
    if expected and regex_from != "none":
        expected = (".*(?:shop).*",)
    assert search_indexes(args, env, monkeypatch) == expected


def test_a_flag_hides_its_own_variable_only(monkeypatch: Any) -> None:
    """The command line wins over the same flag's variable, as in redis_exporter."""
    env = {SWITCH_VAR: "true", REGEX_VAR: "cart"}
    got = search_indexes([f"{SWITCH_FLAG}=false"], env, monkeypatch)
    assert got == ()
    got = search_indexes(["--check-search-indexes=shop"], env, monkeypatch)
    assert got == (".*(?:shop).*",)


@pytest.mark.parametrize("bad", ["(a", "(?=a)", r"(a)\1"])
def test_a_bad_regex_variable_beside_the_switch_flag_is_refused_by_name(
    bad: str, monkeypatch: Any
) -> None:
    """Refused at start with the variable named, never silently ignored."""
    import click

    with pytest.raises(click.UsageError, match=REGEX_VAR + " takes a regular expression"):
        search_indexes([SWITCH_FLAG], {REGEX_VAR: bad}, monkeypatch)


@pytest.mark.parametrize("bad", ["(a", "(?<=a)b", r"(a)\1", "a{1001}"])
def test_a_pattern_re2_refuses_names_file_line_and_field(bad: str, tmp_path: Path) -> None:
    """Go's syntax, as redis_exporter users write it: the config error is located."""
    from cachescope.config.loader import load_config
    from cachescope.config.yamlmarks import ConfigError

    path = tmp_path / "cachescope.yml"
    path.write_text(
        "targets:\n  - uri: redis://127.0.0.1:6379\n    search_indexes:\n"
        f"      - ok\n      - '{bad}'\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    message = str(caught.value)
    assert f"{path}:5" in message and "search_indexes" in message, message
    assert "Go's (RE2) syntax" in message, message


def test_ft_list_names_matched_per_scrape_are_bounded() -> None:
    """Patterns see the first MAX_LISTED names, each at most MAX_NAME_BYTES; one warning."""
    from cachescope.redis.search import FT_LIST, MAX_LISTED, MAX_NAME_BYTES, SearchIndexes

    indexes = SearchIndexes(target="t", entries=("i.*",))
    long = b"i" * (MAX_NAME_BYTES + 1)
    listed: list[object] = [b"i%d" % n for n in range(MAX_LISTED + 5)]
    listed[1] = long
    indexes.followup({FT_LIST: listed}, [], now=0.0)
    assert len(indexes.listed) == MAX_LISTED - 1
    assert long.decode() not in indexes.listed and f"i{MAX_LISTED}" not in indexes.listed
    assert "listed" in indexes.reported


def test_a_catastrophic_pattern_matches_a_hostile_name_at_once() -> None:
    """RE2 answers `(a+)+$` on 30,000 'a's and a '!' in well under a scrape's budget."""
    from cachescope.redis.search import FT_LIST, SearchIndexes

    indexes = SearchIndexes(target="t", entries=("(a+)+$",))
    start = time.monotonic()
    asked = indexes.followup({FT_LIST: [b"a" * 30_000 + b"!", b"aaa"]}, [], now=0.0)
    assert time.monotonic() - start < 2.5  # backtracking would take longer than the universe
    assert asked == [("FT.INFO", "aaa")]
