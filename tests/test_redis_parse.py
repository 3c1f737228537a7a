"""Parsers and metric building on canned replies (real servers are in the other tests)."""

from __future__ import annotations

from cachescope.exposition.families import MetricSet, render
from cachescope.redis import sections
from cachescope.redis.parse import (
    parse_config_get,
    parse_info,
    parse_kv,
    parse_latency_latest,
    parse_slowlog_entry,
    to_float,
)
from servers import Exposition

INFO = (
    b"# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\nuptime_in_seconds:100\r\n"
    b"uptime_in_days:0\r\nrun_id:abc\r\n\r\n"
    b"# Memory\r\nused_memory:1024\r\nused_memory_human:1K\r\n"
    b"maxmemory_policy:allkeys-lru\r\nmem_fragmentation_ratio:1.25\r\nused_memory_peak_perc:99.0%\r\n"
    b"# Persistence\r\nrdb_last_bgsave_status:err\r\naof_last_write_status:ok\r\n"
    b"# Stats\r\nlatest_fork_usec:2500\r\ntotal_error_replies:3\r\nbrand_new_field:42\r\n"
    b"# Replication\r\nrole:master\r\nslave0:ip=10.0.0.2,port=6380,state=online,offset=99,lag=1\r\n"
    b"master_repl_offset:100\r\n"
    b"# Modules\r\nmodule:name=search,ver=1\r\nmodule:name=json,ver=2\r\n"
    b"# Commandstats\r\n"
    b"cmdstat_get:calls=10,usec=50,usec_per_call=5.00,rejected_calls=1,failed_calls=2\r\n"
    b"cmdstat_config|get:calls=2,usec=10,usec_per_call=5.00\r\n"
    b"# Errorstats\r\nerrorstat_OOM:count=4\r\n"
    b"# Latencystats\r\nlatency_percentiles_usec_get:p50=1.003,p99=3.007,p99.9=27.007\r\n"
    b"# Keyspace\r\ndb0:keys=10,expires=4,avg_ttl=2000\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"
)


def build(info: bytes = INFO, db_count: int = 16) -> Exposition:
    metrics = MetricSet((("instance", "a"),))
    fields = parse_info(info)
    databases = sections.add_info(metrics, fields, now=1000.0)
    sections.add_config(metrics, {"maxmemory": "2048"}, fields, ("maxmemory", "maxclients"))
    sections.add_keyspace(metrics, databases, db_count)
    return Exposition(render(metrics))


def test_info_parser_keeps_every_field_and_numbers_repeated_module_lines() -> None:
    fields = parse_info(INFO)
    assert fields["redis_version"] == "7.0.15"
    assert fields["module"] == "name=search,ver=1"
    assert fields["module#1"] == "name=json,ver=2"
    assert "# Server" not in fields


def test_info_parser_survives_a_reply_cut_mid_line() -> None:
    fields = parse_info(INFO[:57])
    assert fields["redis_version"] == "7.0.15"
    assert "uptime_in_seconds" not in fields or fields["uptime_in_seconds"].isdigit()


def test_mapped_fields_use_redis_exporter_names_and_scales() -> None:
    exp = build()
    assert exp.value("redis_memory_used_bytes") == 1024
    assert exp.value("redis_latest_fork_seconds") == 0.0025
    assert exp.value("redis_mem_fragmentation_ratio") == 1.25
    assert exp.types["redis_total_error_replies"] == "counter"
    assert exp.value("redis_start_time_seconds") == 900


def test_status_fields_become_one_for_ok_and_zero_otherwise() -> None:
    exp = build()
    assert exp.value("redis_rdb_last_bgsave_status") == 0
    assert exp.value("redis_aof_last_write_status") == 1


def test_unknown_numeric_field_is_exported_untyped_and_text_fields_are_not() -> None:
    exp = build()
    assert exp.value("redis_brand_new_field") == 42
    assert exp.types["redis_brand_new_field"] == "untyped"
    names = exp.names()
    assert "redis_used_memory_peak_perc" not in names  # "99.0%" is text
    assert not [n for n in names if n.endswith("_human") or n == "redis_uptime_in_days"]


def test_commandstats_become_per_command_counters() -> None:
    exp = build()
    assert exp.value("redis_commands_total", cmd="get") == 10
    assert exp.value("redis_commands_duration_seconds_total", cmd="get") == 50e-6
    assert exp.value("redis_commands_rejected_calls_total", cmd="get") == 1
    assert exp.value("redis_commands_failed_calls_total", cmd="get") == 2
    # Redis before 6.2 has no rejected/failed fields: absent, not zero.
    assert exp.get("redis_commands_failed_calls_total", cmd="config|get") == []


def test_latency_percentiles_form_a_summary_with_commandstats_count_and_sum() -> None:
    exp = build()
    assert exp.types["redis_latency_percentiles_usec"] == "summary"
    assert exp.value("redis_latency_percentiles_usec", cmd="get", quantile="99.9") == 27.007
    assert exp.value("redis_latency_percentiles_usec_count", cmd="get") == 10
    assert exp.value("redis_latency_percentiles_usec_sum", cmd="get") == 50


def test_errorstats_and_replicas_and_identity() -> None:
    exp = build()
    assert exp.value("redis_errors_total", err="OOM") == 4
    assert exp.value("redis_connected_slave_lag_bytes", slave_ip="10.0.0.2", slave_port="6380") == 1
    assert (
        exp.value(
            "redis_connected_slave_lag_seconds",
            slave_ip="10.0.0.2",
            slave_port="6380",
            slave_state="online",
        )
        == 1
    )
    info = [labels for name, labels, _ in exp.samples if name == "redis_instance_info"]
    assert info[0]["maxmemory_policy"] == "allkeys-lru"
    assert info[0]["role"] == "master"


def test_keyspace_fills_empty_databases_with_zero() -> None:
    exp = build(db_count=4)
    assert exp.value("redis_db_keys", db="db0") == 10
    assert exp.value("redis_db_keys_expiring", db="db0") == 4
    assert exp.value("redis_db_avg_ttl_seconds", db="db0") == 2
    assert exp.value("redis_db_keys", db="db2") == 0
    assert exp.get("redis_db_keys", db="db4") == []


def test_config_comes_from_config_get_with_info_as_fallback() -> None:
    exp = build(INFO + b"maxclients:77\r\n")
    assert exp.value("redis_config_maxmemory") == 2048
    assert exp.value("redis_config_maxclients") == 77


def test_small_reply_parsers() -> None:
    assert parse_kv("calls=1,usec=2,junk") == {"calls": "1", "usec": "2"}
    assert parse_config_get([[b"maxmemory", b"0"], [b"databases", b"16"]]) == {
        "maxmemory": "0",
        "databases": "16",
    }
    assert parse_slowlog_entry([[7, 1700000000, 15000, [b"DEBUG", b"SLEEP"]]]) == (7.0, 0.015)
    assert parse_slowlog_entry([]) is None
    assert parse_latency_latest([[b"command", 1700000000, 12, 40]]) == [("command", 1.7e9, 0.012)]
    assert parse_latency_latest(b"garbage") == []


def test_label_values_are_escaped() -> None:
    metrics = MetricSet()
    metrics.add("x", "gauge", "help\nwith newline", 1, (("v", 'a"b\\c\nd'),))
    text = render(metrics)
    assert 'x{v="a\\"b\\\\c\\nd"} 1' in text
    assert "# HELP x help\\nwith newline" in text


def test_commandstats_in_another_order_or_with_odd_parts_read_as_redis_writes_them() -> None:
    usual = build(
        b"cmdstat_get:calls=10,usec=50,usec_per_call=5.00,rejected_calls=1,failed_calls=2\r\n"
        b"latency_percentiles_usec_get:p50=1.003,p99=3.007,p99.9=27.007\r\n"
    )
    odd = build(
        b"cmdstat_get:failed_calls=2,usec=50,calls=10,rejected_calls=1,extra=x\r\n"
        b"latency_percentiles_usec_get:p50=1.003,p99=3.007,junk,p99.9=27.007,p75=abc\r\n"
    )
    assert odd.samples == usual.samples


def test_percentile_names_from_the_server_are_escaped() -> None:
    exp = build(b'latency_percentiles_usec_get:p5"0=1.5\r\n')
    assert 'redis_latency_percentiles_usec{instance="a",cmd="get",quantile="5\\"0"} 1.5' in exp.text
    assert exp.value("redis_latency_percentiles_usec_count", cmd="get") == 0


def test_a_family_handle_writes_its_name_and_families_left_empty_are_not_rendered() -> None:
    metrics = MetricSet((("instance", "a"),))
    family = metrics.family("x_total", "counter", "Xs.")
    family.add_text("3", metrics.labels((("cmd", "get"),)))
    metrics.family("y_total", "counter", "Ys.")  # created, never filled
    metrics.family("x_total", "counter", "Xs.").add(4, (("cmd", "set"),))
    assert render(metrics) == (
        "# HELP x_total Xs.\n# TYPE x_total counter\n"
        'x_total{instance="a",cmd="get"} 3\nx_total{instance="a",cmd="set"} 4\n'
    )
    assert metrics.get("y_total") is None
    assert [family.name for family in metrics.families()] == ["x_total"]


def test_add_numbers_adds_unlabelled_samples_to_new_and_existing_families() -> None:
    metrics = MetricSet((("instance", "a"),))
    about = ("x_bytes", "gauge", "Xs.")
    metrics.add_numbers([(about, "1.50"), (("y", "gauge", "Ys."), "2"), (about, "3")])
    assert render(metrics) == (
        "# HELP x_bytes Xs.\n# TYPE x_bytes gauge\n"
        'x_bytes{instance="a"} 1.50\nx_bytes{instance="a"} 3\n'
        '# HELP y Ys.\n# TYPE y gauge\ny{instance="a"} 2\n'
    )


def test_to_float_answers_alike_for_text_it_has_seen_before() -> None:
    for _ in range(2):
        assert to_float("7.0.15") is None
        assert to_float("1e3") == 1000.0
        assert to_float("-0.5") == -0.5
        assert to_float("nan") is None


def test_commands_sharing_percentile_values_each_get_their_own_summary() -> None:
    same = "p50=1.003,p99=3.007"
    exp = build(
        b"cmdstat_get:calls=3,usec=1234567,usec_per_call=0.40\r\n"
        b"cmdstat_set:calls=1,usec=12345678901234567,usec_per_call=0.40\r\n"
        + f"latency_percentiles_usec_get:{same}\r\nlatency_percentiles_usec_set:{same}\r\n".encode()
    )
    for cmd in ("get", "set"):
        assert exp.value("redis_latency_percentiles_usec", cmd=cmd, quantile="99") == 3.007
    assert exp.value("redis_commands_duration_seconds_total", cmd="get") == 1234567 / 1e6
    assert exp.value("redis_commands_duration_seconds_total", cmd="set") == 12345678901234567 / 1e6


def test_add_numbers_can_give_every_sample_the_same_labels() -> None:
    metrics = MetricSet((("instance", "a"),))
    metrics.add_numbers([(("x", "gauge", "Xs."), "7")], metrics.labels((("slab", "1"),)))
    assert 'x{instance="a",slab="1"} 7\n' in render(metrics)
