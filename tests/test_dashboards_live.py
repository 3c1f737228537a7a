"""Every panel query of every dashboard, run by a real Prometheus fed by cachescope.

Real servers: a Redis primary (LFU, maxmemory, slowlog and latency monitor on, a keyspace
sampler) with a replica (noeviction), a Memcached, a 6-node Redis Cluster and a Sentinel
set. Prometheus scrapes cachescope every second with the rendered recording and alerting
rules. Each dashboard's variables are resolved the way Grafana does (label_values through
the HTTP API); each target expression, with the variables substituted, must be valid
PromQL and return at least one series for at least one choice of the variables, unless
the panel is in ALLOWED_EMPTY with the reason it may be empty.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import urllib.error
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cachescope.dashboards.render import build
from cachescope.rules import thresholds
from cachescope.rules.render import render_documents
from servers import (
    MemcachedServer,
    RedisServer,
    StartExporter,
    StartRedis,
    wait_for,
    wait_for_link_up,
)
from test_rules_live import Prometheus
from topology_servers import Cluster, SentinelSet

# (dashboard uid, panel title) -> why it may return nothing on these servers. Empty today:
# failure counters (errors, rejected connections, listener disabled, outofmemory, scrape
# errors) are exported at 0 from the first scrape, so their rates exist while all is well;
# ALERTS has data because RedisRestarted fires on servers younger than 10 minutes; and the
# servers above are set up so every conditional panel applies somewhere (LFU for hot keys,
# noeviction with maxmemory on the replica, latency monitor and slowlog on, an error reply,
# a cluster and a sentinel set). A panel added here needs the reason it cannot have data.
_NO_RS2 = "RediSearch 1.2 (Debian's, the only one here) has no percent_indexed nor failure count"
ALLOWED_EMPTY: dict[tuple[str, str], str] = {
    ("cachescope-redis", "Percent indexed"): _NO_RS2,
    ("cachescope-redis", "Indexing failures in 10m"): _NO_RS2,
}
# Debian's RediSearch module (redis-redisearch), for the search index row.
REDISEARCH = "/usr/lib/redis/modules/redisearch.so"
# Grafana's built-in variables, as a 1s-scrape Prometheus would get them.
BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}
LABEL_VALUES = re.compile(r"^label_values\((.*),\s*(\w+)\)$", re.S)
VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")
MAX_ASSIGNMENTS = 24


def config(tmp: Path, primary: RedisServer, replica: RedisServer, memcached: MemcachedServer,
           cluster: Cluster, sentinels: SentinelSet) -> Path:  # fmt: skip
    path = tmp / "cachescope.yml"
    path.write_text(f"""
targets:
  - uri: {primary.uri}
    keyspace:
      interval: 1s
      groups: [{{name: sessions, pattern: "sess:*"}}]
      check_keys: [write_queue]
      streams: [events]
    search_indexes: [articles]
  - uri: {replica.uri}
  - uri: {memcached.uri}
  - uri: redis://127.0.0.1:{cluster.nodes[0].port}
    name: orders
    discover: {{kind: cluster, interval: 1s}}
  - uri: {sentinels.sentinels[0].uri}
    name: sentinel-a
    discover: {{kind: sentinel, master_sets: [mymaster], interval: 1s}}
""")
    return path


def seed(primary: RedisServer) -> None:
    """Keys with and without TTL, a big value, a stream, a queue, an index, an error, a stall."""
    client = primary.client()
    for index in range(200):
        client.set(f"sess:{index}", "x" * 100, ex=3600)
        client.set(f"user:{index}:profile", "y" * (index * 10))
    client.set(
        "report:2026", "r" * 200_000
    )  # above RedisBigKeys' notable 100 KB: the Big keys table
    client.xadd("events", {"a": 1})
    client.xgroup_create("events", "workers", id="0")
    client.lpush("write_queue", "job")
    client.execute_command("FT.CREATE", "articles", "SCHEMA", "title", "TEXT")  # RediSearch 1.2
    for index in range(20):
        client.execute_command("FT.ADD", "articles", f"a{index}", 1.0, "FIELDS", "title", "news")
    with pytest.raises(Exception):  # noqa: B017 (any error reply: it feeds errorstats)
        client.execute_command("NOSUCHCOMMAND")
    client.execute_command("DEBUG", "SLEEP", "0.02")  # a latency event above 1 ms


BIG = b"b" * 100_000


@pytest.fixture
def traffic(primary_etc: dict[str, Any]) -> Iterator[None]:
    """Hits and misses on the caches, ten rounds a second; Memcached kept evicting."""
    stop = threading.Event()
    client = primary_etc["primary"].client()
    cluster_client = primary_etc["cluster"].nodes[0].client()
    port = primary_etc["memcached"].port

    def run() -> None:
        import socket

        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            counter = itertools.count()
            while not stop.is_set():
                n = next(counter)
                client.get(f"sess:{n % 200}")
                client.get(f"missing:{n}")
                cluster_client.execute_command("PING")
                sock.sendall(f"set k{n % 50} 0 0 1\r\nx\r\nget k{n % 50}\r\nget no{n}\r\n".encode())
                # 100 kB a round into 8 MB: after a few seconds Memcached evicts all along.
                sock.sendall(f"set big{n} 0 0 {len(BIG)} noreply\r\n".encode() + BIG + b"\r\n")
                sock.recv(4096)
                stop.wait(0.1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)


@pytest.fixture
def primary_etc(start_redis: StartRedis) -> Iterator[dict[str, Any]]:
    primary = start_redis(
        "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lfu",
        "--latency-monitor-threshold", "1", "--slowlog-log-slower-than", "0",
        "--enable-debug-command", "local", "--repl-diskless-sync-delay", "0",
        "--loadmodule", REDISEARCH,
    )  # fmt: skip
    replica = start_redis("--replicaof", "127.0.0.1", str(primary.port), "--maxmemory", "64mb")
    memcached = MemcachedServer("-m", "8")
    cluster = Cluster()
    sentinels = SentinelSet()
    try:
        wait_for_link_up(replica)
        seed(primary)
        yield {
            "primary": primary,
            "replica": replica,
            "memcached": memcached,
            "cluster": cluster,
            "sentinels": sentinels,
        }
    finally:
        sentinels.stop()
        cluster.stop()
        memcached.stop()


class Api:
    """Prometheus' HTTP API: instant and range queries, label values."""

    def __init__(self, prometheus: Prometheus) -> None:
        self.prometheus = prometheus

    def get(self, path: str, **params: str | list[str]) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            reply = self.prometheus.api(f"{path}?{query}")
        except urllib.error.HTTPError as exc:  # 400: bad PromQL, with Prometheus' message
            return json.loads(exc.read().decode())
        return reply

    def query(self, expr: str, instant: bool) -> tuple[str | None, int]:
        """(error or None, number of series)."""
        if instant:
            reply = self.get("/api/v1/query", query=expr)
        else:
            now = time.time()
            reply = self.get(
                "/api/v1/query_range", query=expr, start=str(now - 30), end=str(now), step="2"
            )
        if reply.get("status") != "success":
            return f"{reply.get('errorType')}: {reply.get('error')}", 0
        return None, len(reply["data"]["result"])

    def label_values(self, selector: str, label: str) -> list[str]:
        reply = self.get(f"/api/v1/label/{label}/values", **{"match[]": [selector]})
        assert reply.get("status") == "success", reply
        return sorted(reply["data"])


def substitute(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values[name] if name in values else match.group(0)

    result = VARIABLE.sub(replace, text)
    leftover = [m.group(0) for m in VARIABLE.finditer(result) if not m.group(0)[1:].isdigit()]
    assert not leftover, f"unsubstituted variables {leftover} in {text!r}"
    return result


def assignments(api: Api, dashboard: dict[str, Any]) -> list[dict[str, str]]:
    """Every choice of the dashboard's variables that its own variable queries offer."""
    choices: list[dict[str, str]] = [dict(BUILTINS)]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = LABEL_VALUES.match(variable["definition"])
        assert match, f"{dashboard['uid']}: variable {variable['name']} is not label_values()"
        grown = []
        for chosen in choices:
            selector = substitute(match.group(1), chosen)
            found = api.label_values(selector, match.group(2))
            assert found, f"{dashboard['uid']}: variable {variable['name']} has no values"
            grown += [dict(chosen, **{variable["name"]: value}) for value in found]
        choices = grown[:MAX_ASSIGNMENTS]
    return choices


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            yield panel


def wait_for_data(api: Api, deadline: float) -> None:
    """Until the recording rules have rates and the sampler and topology have reported."""
    needed = [
        "instance:redis_keyspace_hit_ratio:ratio_rate5m",
        "instance:memcached_hit_ratio:ratio_rate5m",
        "redis_big_key_memory_bytes",
        "redis_cluster_state",
        "redis_sentinel_master_status",
        'redis_up{master_set="mymaster"}',
        'ALERTS{alertstate="firing"}',
        "increase(redis_slowlog_last_id[1m]) > 0",
    ]
    while time.monotonic() < deadline:
        if all(api.query(expr, True)[1] for expr in needed):
            return
        time.sleep(1)
    missing = [expr for expr in needed if not api.query(expr, True)[1]]
    raise AssertionError(f"no data yet for {missing}")


def test_every_panel_query_returns_data_from_a_live_prometheus(
    primary_etc: dict[str, Any],
    traffic: None,
    start_exporter: StartExporter,
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    # A stock replica (latency-monitor-threshold 0) gives the audit panel a finding.
    exporter = start_exporter(
        "--config.file", str(config(tmp_path, **primary_etc)), "--audit.interval", "1s"
    )
    rule_dir = tmp_path / "rules"
    rule_dir.mkdir()
    values = thresholds.load()
    for name, text in render_documents(values, "prometheus").items():
        (rule_dir / name).write_text(text)
    prometheus = Prometheus(tmp_path, exporter.port, rule_dir)
    try:
        api = Api(prometheus)
        wait_for_data(api, started + 60)
        wait_for(lambda: api.query("cachescope_config_finding", True)[1] > 0, 60, "an audit")
        # The harness itself: a missing series and bad PromQL are both caught.
        assert api.query('no_such_metric{job="cachescope"}', True) == (None, 0)
        assert api.query("rate(redis_up[", True)[0]
        time.sleep(3)  # a few more samples for the 1m rates
        failures = []
        checked = 0
        for dashboard in build(values).values():
            choices = assignments(api, dashboard)
            for panel in panels(dashboard):
                key = (dashboard["uid"], panel["title"])
                for query in panel["targets"]:
                    series = 0
                    for chosen in choices:
                        expr = substitute(query["expr"], chosen)
                        error, found = api.query(expr, query.get("instant", False))
                        checked += 1
                        if error:
                            failures.append(f"{key} {query['refId']}: {error}\n  {expr}")
                            break
                        series += found
                    if series == 0 and key not in ALLOWED_EMPTY:
                        failures.append(f"{key} {query['refId']}: no series\n  {query['expr']}")
        print(f"checked {checked} queries")
        assert not failures, f"{len(failures)} of {checked} queries failed:\n" + "\n".join(failures)
        stale = [
            key
            for key in ALLOWED_EMPTY
            if key[1] not in {p["title"] for d in build(values).values() for p in panels(d)}
        ]
        assert not stale, f"ALLOWED_EMPTY names panels that do not exist: {stale}"
    finally:
        prometheus.stop()
