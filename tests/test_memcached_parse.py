"""Memcached stats parsing and metric tables, on canned replies (no server needed)."""

from __future__ import annotations

import pytest
from cachescope.exposition.families import MetricSet
from cachescope.memcached import sections
from cachescope.memcached.parse import (
    MAX_REPLY_BYTES,
    ProtocolError,
    ReplyError,
    ReplyReader,
    parse_stats,
    split_items,
    split_slabs,
)

# Trimmed from memcached 1.6.18 after one set and one get hit, plus the extstore and
# proxy fields that only builds with those features print.
STATS = (
    b"STAT pid 5164\r\nSTAT uptime 2\r\nSTAT time 1795669135\r\nSTAT version 1.6.18\r\n"
    b"STAT libevent 2.1.12-stable\r\nSTAT rusage_user 0.004432\r\nSTAT rusage_system 1.005910\r\n"
    b"STAT max_connections 1024\r\nSTAT curr_connections 1\r\nSTAT total_connections 2\r\n"
    b"STAT rejected_connections 0\r\nSTAT cmd_get 2\r\nSTAT cmd_set 7\r\nSTAT cmd_flush 1\r\n"
    b"STAT get_hits 1\r\nSTAT get_misses 1\r\nSTAT delete_misses 0\r\nSTAT delete_hits 0\r\n"
    b"STAT incr_misses 0\r\nSTAT incr_hits 0\r\nSTAT decr_misses 0\r\nSTAT decr_hits 0\r\n"
    b"STAT cas_misses 1\r\nSTAT cas_hits 2\r\nSTAT cas_badval 1\r\nSTAT touch_hits 0\r\n"
    b"STAT touch_misses 0\r\nSTAT store_too_large 0\r\nSTAT store_no_memory 0\r\n"
    b"STAT bytes_read 109\r\nSTAT bytes_written 38\r\nSTAT limit_maxbytes 8388608\r\n"
    b"STAT accepting_conns 1\r\nSTAT listen_disabled_num 0\r\nSTAT threads 4\r\n"
    b"STAT conn_yields 0\r\nSTAT time_in_listen_disabled_us 2500000\r\n"
    b"STAT lru_crawler_starts 1\r\nSTAT unexpected_napi_ids 0\r\nSTAT round_robin_fallback 0\r\n"
    b"STAT bytes 65\r\nSTAT curr_items 1\r\nSTAT total_items 1\r\nSTAT evictions 0\r\n"
    b"STAT reclaimed 0\r\nSTAT crawler_reclaimed 0\r\nSTAT crawler_items_checked 0\r\n"
    b"STAT moves_to_cold 1\r\nSTAT moves_to_warm 0\r\nSTAT moves_within_lru 0\r\n"
    b"STAT direct_reclaims 0\r\nSTAT extstore_compact_lost 0\r\nSTAT extstore_compact_rescues 0\r\n"
    b"STAT extstore_compact_skipped 0\r\nSTAT extstore_page_allocs 0\r\n"
    b"STAT extstore_page_evictions 0\r\nSTAT extstore_page_reclaims 0\r\n"
    b"STAT extstore_pages_free 0\r\nSTAT extstore_pages_used 0\r\n"
    b"STAT extstore_objects_evicted 0\r\nSTAT extstore_objects_read 0\r\n"
    b"STAT extstore_objects_written 0\r\nSTAT extstore_objects_used 0\r\n"
    b"STAT extstore_bytes_evicted 0\r\nSTAT extstore_bytes_written 0\r\n"
    b"STAT extstore_bytes_read 0\r\nSTAT extstore_bytes_used 0\r\n"
    b"STAT extstore_bytes_fragmented 0\r\nSTAT extstore_limit_maxbytes 0\r\n"
    b"STAT extstore_io_queue 0\r\nSTAT proxy_conn_requests 0\r\nSTAT proxy_conn_errors 0\r\n"
    b"STAT proxy_conn_oom 0\r\nSTAT proxy_req_active 0\r\nSTAT proxy_config_reloads 0\r\n"
    b"STAT proxy_config_reload_fails 0\r\nSTAT proxy_config_cron_runs 0\r\n"
    b"STAT proxy_config_cron_fails 0\r\nSTAT proxy_backend_total 0\r\n"
    b"STAT proxy_backend_marked_bad 0\r\nSTAT proxy_backend_failed 0\r\n"
    b"STAT proxy_request_failed_depth 0\r\nSTAT brand_new_counter 42\r\nEND\r\n"
)
SETTINGS = (
    b"STAT maxbytes 8388608\r\nSTAT maxconns 1024\r\nSTAT inter 127.0.0.1\r\n"
    b"STAT evictions on\r\nSTAT ssl_chain_cert (null)\r\nSTAT lru_crawler yes\r\n"
    b"STAT lru_crawler_sleep 100\r\nSTAT lru_crawler_tocrawl 0\r\n"
    b"STAT lru_maintainer_thread yes\r\n"
    b"STAT hot_lru_pct 20\r\nSTAT warm_lru_pct 40\r\nSTAT hot_max_factor 0.20\r\n"
    b"STAT warm_max_factor 2.00\r\nEND\r\n"
)
SLABS = (
    b"STAT 1:chunk_size 96\r\nSTAT 1:chunks_per_page 10922\r\nSTAT 1:total_pages 1\r\n"
    b"STAT 1:total_chunks 10922\r\nSTAT 1:used_chunks 1\r\nSTAT 1:free_chunks 10921\r\n"
    b"STAT 1:free_chunks_end 0\r\nSTAT 1:get_hits 1\r\nSTAT 1:cmd_set 4\r\n"
    b"STAT 1:delete_hits 0\r\nSTAT 1:incr_hits 0\r\nSTAT 1:decr_hits 0\r\nSTAT 1:cas_hits 2\r\n"
    b"STAT 1:cas_badval 1\r\nSTAT 1:touch_hits 0\r\nSTAT 12:chunk_size 944\r\n"
    b"STAT active_slabs 2\r\nSTAT total_malloced 2097152\r\nEND\r\n"
)
ITEMS = (
    b"STAT items:1:number 1\r\nSTAT items:1:number_hot 0\r\nSTAT items:1:number_warm 0\r\n"
    b"STAT items:1:number_cold 1\r\nSTAT items:1:number_temp 0\r\nSTAT items:1:age_hot 0\r\n"
    b"STAT items:1:age_warm 0\r\nSTAT items:1:age 3\r\nSTAT items:1:mem_requested 65\r\n"
    b"STAT items:1:evicted 0\r\nSTAT items:1:evicted_nonzero 0\r\nSTAT items:1:evicted_time 0\r\n"
    b"STAT items:1:outofmemory 0\r\nSTAT items:1:tailrepairs 0\r\nSTAT items:1:reclaimed 0\r\n"
    b"STAT items:1:expired_unfetched 0\r\nSTAT items:1:evicted_unfetched 0\r\n"
    b"STAT items:1:crawler_reclaimed 0\r\nSTAT items:1:moves_to_cold 1\r\n"
    b"STAT items:1:moves_to_warm 0\r\nSTAT items:1:moves_within_lru 0\r\n"
    b"STAT items:1:hits_to_hot 1\r\nSTAT items:1:hits_to_warm 0\r\nSTAT items:1:hits_to_cold 0\r\n"
    b"STAT items:1:hits_to_temp 0\r\nSTAT items:1:some_future_field 9\r\nEND\r\n"
)

# prometheus/memcached_exporter's families and types, taken from pkg/exporter/exporter.go
# (facts, not code). Every one is reachable from the canned replies above.
MEMCACHED_EXPORTER_FAMILIES = {
    "memcached_uptime_seconds": "counter",
    "memcached_time_seconds": "gauge",
    "memcached_version": "gauge",
    "memcached_process_user_cpu_seconds_total": "counter",
    "memcached_process_system_cpu_seconds_total": "counter",
    "memcached_read_bytes_total": "counter",
    "memcached_written_bytes_total": "counter",
    "memcached_current_connections": "gauge",
    "memcached_max_connections": "gauge",
    "memcached_connections_total": "counter",
    "memcached_connections_rejected_total": "counter",
    "memcached_connections_yielded_total": "counter",
    "memcached_connections_listener_disabled_total": "counter",
    "memcached_current_bytes": "gauge",
    "memcached_limit_bytes": "gauge",
    "memcached_commands_total": "counter",
    "memcached_current_items": "gauge",
    "memcached_items_total": "counter",
    "memcached_items_evicted_total": "counter",
    "memcached_items_reclaimed_total": "counter",
    "memcached_item_too_large_total": "counter",
    "memcached_item_no_memory_total": "counter",
    "memcached_lru_crawler_enabled": "gauge",
    "memcached_lru_crawler_sleep": "gauge",
    "memcached_lru_crawler_to_crawl": "gauge",
    "memcached_lru_crawler_maintainer_thread": "gauge",
    "memcached_lru_crawler_hot_percent": "gauge",
    "memcached_lru_crawler_warm_percent": "gauge",
    "memcached_lru_crawler_hot_max_factor": "gauge",
    "memcached_lru_crawler_warm_max_factor": "gauge",
    "memcached_lru_crawler_starts_total": "counter",
    "memcached_lru_crawler_reclaimed_total": "counter",
    "memcached_lru_crawler_items_checked_total": "counter",
    "memcached_lru_crawler_moves_to_cold_total": "counter",
    "memcached_lru_crawler_moves_to_warm_total": "counter",
    "memcached_lru_crawler_moves_within_lru_total": "counter",
    "memcached_direct_reclaims_total": "counter",
    "memcached_malloced_bytes": "gauge",
    "memcached_accepting_connections": "gauge",
    "memcached_slab_current_items": "gauge",
    "memcached_slab_items_age_seconds": "gauge",
    "memcached_slab_items_crawler_reclaimed_total": "counter",
    "memcached_slab_items_evicted_total": "counter",
    "memcached_slab_items_evicted_nonzero_total": "counter",
    "memcached_slab_items_evicted_time_seconds": "counter",
    "memcached_slab_items_evicted_unfetched_total": "counter",
    "memcached_slab_items_expired_unfetched_total": "counter",
    "memcached_slab_items_outofmemory_total": "counter",
    "memcached_slab_items_reclaimed_total": "counter",
    "memcached_slab_items_tailrepairs_total": "counter",
    "memcached_slab_items_moves_to_cold": "counter",
    "memcached_slab_items_moves_to_warm": "counter",
    "memcached_slab_items_moves_within_lru": "counter",
    "memcached_slab_hot_items": "gauge",
    "memcached_slab_warm_items": "gauge",
    "memcached_slab_cold_items": "gauge",
    "memcached_slab_temporary_items": "gauge",
    "memcached_slab_hot_age_seconds": "gauge",
    "memcached_slab_warm_age_seconds": "gauge",
    "memcached_slab_lru_hits_total": "counter",
    "memcached_slab_chunk_size_bytes": "gauge",
    "memcached_slab_chunks_per_page": "gauge",
    "memcached_slab_current_pages": "gauge",
    "memcached_slab_current_chunks": "gauge",
    "memcached_slab_chunks_used": "gauge",
    "memcached_slab_chunks_free": "gauge",
    "memcached_slab_chunks_free_end": "gauge",
    "memcached_slab_mem_requested_bytes": "gauge",  # see docs/memcached.md: differences
    "memcached_slab_commands_total": "counter",
    "memcached_extstore_compact_lost_total": "counter",
    "memcached_extstore_compact_rescued_total": "counter",
    "memcached_extstore_compact_skipped_total": "counter",
    "memcached_extstore_pages_allocated_total": "counter",
    "memcached_extstore_pages_evicted_total": "counter",
    "memcached_extstore_pages_reclaimed_total": "counter",
    "memcached_extstore_pages_free": "gauge",
    "memcached_extstore_pages_used": "gauge",
    "memcached_extstore_objects_evicted_total": "counter",
    "memcached_extstore_objects_read_total": "counter",
    "memcached_extstore_objects_written_total": "counter",
    "memcached_extstore_objects_used": "gauge",
    "memcached_extstore_bytes_evicted_total": "counter",
    "memcached_extstore_bytes_written_total": "counter",
    "memcached_extstore_bytes_read_total": "counter",
    "memcached_extstore_bytes_used": "counter",
    "memcached_extstore_bytes_fragmented": "gauge",
    "memcached_extstore_bytes_limit": "gauge",
    "memcached_extstore_io_queue_depth": "gauge",
    "memcached_proxy_conn_requests_total": "counter",
    "memcached_proxy_conn_errors_total": "counter",
    "memcached_proxy_conn_oom_total": "counter",
    "memcached_proxy_req_active": "gauge",
    "memcached_proxy_config_reloads_total": "counter",
    "memcached_proxy_config_reload_fails_total": "counter",
    "memcached_proxy_config_cron_runs_total": "counter",
    "memcached_proxy_config_cron_fails_total": "counter",
    "memcached_proxy_backend_total": "gauge",
    "memcached_proxy_backend_marked_bad_total": "counter",
    "memcached_proxy_backend_failed": "gauge",
    "memcached_proxy_request_failed_depth_total": "counter",
    "memcached_round_robin_fallback_total": "counter",
    "memcached_unexpected_napi_ids_total": "counter",
}


def build(
    stats: bytes = STATS, settings: bytes = SETTINGS, slabs: bytes = SLABS, items: bytes = ITEMS
) -> MetricSet:
    """What the collector builds from four replies, without the network."""
    metrics = MetricSet()
    per_slab, totals = split_slabs(parse_stats(slabs))
    parsed = parse_stats(stats)
    sections.add_stats(metrics, {**totals, **parsed})
    sections.add_settings(metrics, parse_stats(settings), parsed)
    sections.add_slabs(metrics, per_slab, split_items(parse_stats(items)))
    return metrics


def samples(metrics: MetricSet, name: str) -> dict[str, float]:
    family = metrics.get(name)
    assert family is not None, f"{name} missing"
    return {labels: value for _, labels, value in family.samples}


def test_every_memcached_exporter_family_is_built_with_its_type() -> None:
    metrics = build()
    missing = [n for n in MEMCACHED_EXPORTER_FAMILIES if metrics.get(n) is None]
    assert missing == []
    wrong = {
        n: f.type
        for n in MEMCACHED_EXPORTER_FAMILIES
        if (f := metrics.get(n)) is not None and f.type != MEMCACHED_EXPORTER_FAMILIES[n]
    }
    assert wrong == {}


def test_commands_split_set_from_cas_like_memcached_exporter() -> None:
    commands = samples(build(), "memcached_commands_total")
    assert commands['{command="get",status="hit"}'] == 1
    assert commands['{command="get",status="miss"}'] == 1
    assert commands['{command="cas",status="badval"}'] == 1
    assert commands['{command="flush",status="hit"}'] == 1
    assert commands['{command="set",status="hit"}'] == 7 - (1 + 2 + 1)
    per_slab = samples(build(), "memcached_slab_commands_total")
    assert per_slab['{slab="1",command="set",status="hit"}'] == 4 - (2 + 1)
    assert '{slab="1",command="get",status="miss"}' not in per_slab


def test_values_are_converted_to_base_units() -> None:
    metrics = build()
    assert samples(metrics, "memcached_process_system_cpu_seconds_total") == {"": 1.00591}
    assert samples(metrics, "memcached_connections_listener_disabled_seconds_total") == {"": 2.5}
    assert samples(metrics, "memcached_lru_crawler_enabled") == {"": 1}
    assert samples(metrics, "memcached_lru_crawler_hot_max_factor") == {"": 0.2}
    assert samples(metrics, "memcached_malloced_bytes") == {"": 2097152}
    assert samples(metrics, "memcached_version") == {'{version="1.6.18"}': 1}


def test_per_slab_series_carry_the_slab_label_in_class_order() -> None:
    metrics = build()
    assert samples(metrics, "memcached_slab_chunk_size_bytes") == {
        '{slab="1"}': 96,
        '{slab="12"}': 944,
    }
    assert samples(metrics, "memcached_slab_current_items") == {'{slab="1"}': 1}
    hits = samples(metrics, "memcached_slab_lru_hits_total")
    assert hits['{slab="1",lru="hot"}'] == 1
    assert hits['{slab="1",lru="temporary"}'] == 0


def test_mem_requested_in_both_replies_gives_one_series() -> None:
    old_slabs = SLABS.replace(b"STAT active_slabs", b"STAT 1:mem_requested 70\r\nSTAT active_slabs")
    assert samples(build(slabs=old_slabs), "memcached_slab_mem_requested_bytes") == {
        '{slab="1"}': 70
    }


def test_unknown_numeric_stats_are_untyped_and_unknown_text_is_skipped() -> None:
    metrics = build()
    family = metrics.get("memcached_brand_new_counter")
    assert family is not None and family.type == "untyped"
    assert metrics.get("memcached_libevent") is None
    assert metrics.get("memcached_pid") is None
    # settings text values and unknown per-slab fields are not exported
    assert not [f.name for f in metrics.families() if "some_future_field" in f.name]


def test_max_connections_comes_from_settings_or_falls_back_to_stats() -> None:
    assert samples(build(), "memcached_max_connections") == {"": 1024}
    metrics = MetricSet()
    sections.add_settings(metrics, {}, {"max_connections": "64"})
    assert samples(metrics, "memcached_max_connections") == {"": 64}
    assert metrics.get("memcached_lru_crawler_enabled") is None


def test_lru_settings_are_left_out_when_the_crawler_is_off() -> None:
    metrics = build(settings=SETTINGS.replace(b"lru_crawler yes", b"lru_crawler no"))
    assert metrics.get("memcached_lru_crawler_sleep") is None
    assert samples(metrics, "memcached_max_connections") == {"": 1024}


def test_reader_returns_replies_in_order_across_arbitrary_chunks() -> None:
    wire = STATS + SETTINGS + b"ERROR\r\n" + ITEMS
    reader = ReplyReader()
    replies: list[object] = []
    for i in range(0, len(wire), 7):  # cut everywhere, including inside "\r\n"
        reader.feed(wire[i : i + 7])
        while (reply := reader.gets()) is not None:
            replies.append(reply)
    assert len(replies) == 4
    assert isinstance(replies[0], dict) and replies[0]["version"] == "1.6.18"
    assert isinstance(replies[1], dict) and replies[1]["ssl_chain_cert"] == "(null)"
    assert replies[2] == ReplyError("ERROR")
    assert isinstance(replies[3], dict) and replies[3]["items:1:number"] == "1"


def test_reply_cut_mid_way_is_not_returned_until_complete() -> None:
    reader = ReplyReader()
    half = len(STATS) // 2
    reader.feed(STATS[:half])
    assert reader.gets() is None
    assert reader.gets() is None
    reader.feed(STATS[half:])
    reply = reader.gets()
    assert isinstance(reply, dict) and reply["curr_items"] == "1"
    with pytest.raises(ProtocolError, match="incomplete"):
        parse_stats(STATS[:-5])


def test_empty_stats_reply_and_values_with_spaces() -> None:
    assert parse_stats(b"END\r\n") == {}
    assert parse_stats(b"STAT inter 127.0.0.1 ::1\r\nEND\r\n") == {"inter": "127.0.0.1 ::1"}


@pytest.mark.parametrize(
    "wire",
    [
        b"-ERR unknown command 'stats'\r\n",  # Redis on the port
        b"HTTP/1.1 400 Bad Request\r\n",
        b"STAT a 1\r\nERROR\r\n",  # an error in the middle of a reply
        b"STAT a 1\r\nVALUE k 0 1\r\n",
    ],
)
def test_non_memcached_replies_are_protocol_errors(wire: bytes) -> None:
    reader = ReplyReader()
    reader.feed(wire)
    with pytest.raises(ProtocolError):
        reader.gets()


def test_error_lines_become_reply_errors() -> None:
    for line in (b"ERROR", b"CLIENT_ERROR unauthenticated", b"SERVER_ERROR out of memory"):
        reader = ReplyReader()
        reader.feed(line + b"\r\n")
        assert reader.gets() == ReplyError(line.decode())


def test_endless_reply_is_cut_off() -> None:
    reader = ReplyReader()
    line = b"STAT x " + b"1" * 1000 + b"\r\n"
    with pytest.raises(ProtocolError, match="longer than"):
        for _ in range(MAX_REPLY_BYTES // len(line) + 2):
            reader.feed(line)
            assert reader.gets() is None
    reader = ReplyReader()
    with pytest.raises(ProtocolError, match="longer than"):
        reader.feed(b"x" * (MAX_REPLY_BYTES + 1))  # no line end at all
        reader.gets()


def test_split_slabs_and_items_ignore_malformed_keys() -> None:
    per_slab, totals = split_slabs({"1:chunk_size": "96", "x:y": "1", "active_slabs": "1"})
    assert per_slab == {"1": {"chunk_size": "96"}}
    assert totals == {"active_slabs": "1"}
    assert split_items({"items:2:number": "3", "items:x:number": "1", "number": "1"}) == {
        "2": {"number": "3"}
    }
