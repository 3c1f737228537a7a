"""The map from Memcached stats to metrics: full name, type, help, scale.

Names and types follow prometheus/memcached_exporter wherever it exports the
same stat, including its quirks (`memcached_uptime_seconds` and
`memcached_slab_items_moves_to_cold` are counters without `_total`,
`memcached_extstore_bytes_used` is a counter), so its dashboards and alerts
keep working. Stats it does not export get Prometheus-style names; a numeric
`stats` field missing from every table is still exported, as untyped
`memcached_<field>`, so new server versions are covered before we name them.
"""

from __future__ import annotations

from typing import NamedTuple

from cachescope.exposition.textformat import COUNTER, GAUGE


class Field(NamedTuple):
    name: str
    type: str
    help: str
    scale: float = 1.0


G, C = GAUGE, COUNTER
_Row = tuple[str, str, str, str] | tuple[str, str, str, str, float]

# fmt: off
_STATS: list[_Row] = [
    # Names of memcached_exporter.
    ("uptime", "memcached_uptime_seconds", C, "Number of seconds since the server started."),
    ("time", "memcached_time_seconds", G, "Current Unix time according to the server."),
    ("rusage_user", "memcached_process_user_cpu_seconds_total", C, "User CPU time of the server."),
    ("rusage_system", "memcached_process_system_cpu_seconds_total", C,
     "System CPU time of the server."),
    ("bytes_read", "memcached_read_bytes_total", C, "Bytes read by the server from the network."),
    ("bytes_written", "memcached_written_bytes_total", C,
     "Bytes sent by the server to the network."),
    ("curr_connections", "memcached_current_connections", G, "Open connections."),
    ("total_connections", "memcached_connections_total", C, "Connections opened since start."),
    ("rejected_connections", "memcached_connections_rejected_total", C,
     "Connections rejected for hitting the -c limit in maxconns_fast mode."),
    ("conn_yields", "memcached_connections_yielded_total", C,
     "Times a connection yielded for hitting the -R requests-per-event limit."),
    ("listen_disabled_num", "memcached_connections_listener_disabled_total", C,
     "Times the server hit its connection limit and disabled its listener."),
    ("accepting_conns", "memcached_accepting_connections", G,
     "Whether the server accepts new connections."),
    ("bytes", "memcached_current_bytes", G, "Bytes used to store items."),
    ("limit_maxbytes", "memcached_limit_bytes", G, "Bytes the server may use for storage (-m)."),
    ("curr_items", "memcached_current_items", G, "Items stored."),
    ("total_items", "memcached_items_total", C, "Items stored since start."),
    ("evictions", "memcached_items_evicted_total", C,
     "Valid items removed from the cache to free memory for new items."),
    ("reclaimed", "memcached_items_reclaimed_total", C,
     "Times an entry was stored in memory of an expired entry."),
    ("store_too_large", "memcached_item_too_large_total", C,
     "Items refused because they exceed the maximum item size."),
    ("store_no_memory", "memcached_item_no_memory_total", C,
     "Items refused because no memory could be freed for them."),
    ("direct_reclaims", "memcached_direct_reclaims_total", C,
     "Times worker threads had to reclaim or evict items directly."),
    ("lru_crawler_starts", "memcached_lru_crawler_starts_total", C, "LRU crawler starts."),
    ("crawler_items_checked", "memcached_lru_crawler_items_checked_total", C,
     "Items examined by the LRU crawler."),
    ("crawler_reclaimed", "memcached_lru_crawler_reclaimed_total", C,
     "Items freed by the LRU crawler."),
    ("moves_to_cold", "memcached_lru_crawler_moves_to_cold_total", C,
     "Items moved from HOT or WARM to COLD."),
    ("moves_to_warm", "memcached_lru_crawler_moves_to_warm_total", C,
     "Items moved from COLD to WARM."),
    ("moves_within_lru", "memcached_lru_crawler_moves_within_lru_total", C,
     "Items bumped within HOT or WARM."),
    ("total_malloced", "memcached_malloced_bytes", G, "Bytes allocated to slab pages."),
    # extstore (only with -o ext_path=...).
    ("extstore_compact_lost", "memcached_extstore_compact_lost_total", C,
     "Items lost during extstore compaction because they were locked."),
    ("extstore_compact_rescues", "memcached_extstore_compact_rescued_total", C,
     "Items moved to a new page during extstore compaction."),
    ("extstore_compact_skipped", "memcached_extstore_compact_skipped_total", C,
     "Items dropped for inactivity during extstore compaction."),
    ("extstore_page_allocs", "memcached_extstore_pages_allocated_total", C,
     "Extstore page allocations."),
    ("extstore_page_evictions", "memcached_extstore_pages_evicted_total", C,
     "Extstore page evictions."),
    ("extstore_page_reclaims", "memcached_extstore_pages_reclaimed_total", C,
     "Empty extstore pages freed."),
    ("extstore_pages_free", "memcached_extstore_pages_free", G, "Extstore pages without items."),
    ("extstore_pages_used", "memcached_extstore_pages_used", G, "Extstore pages with items."),
    ("extstore_objects_evicted", "memcached_extstore_objects_evicted_total", C,
     "Items evicted from extstore."),
    ("extstore_objects_read", "memcached_extstore_objects_read_total", C,
     "Items read from extstore."),
    ("extstore_objects_written", "memcached_extstore_objects_written_total", C,
     "Items written to extstore."),
    ("extstore_objects_used", "memcached_extstore_objects_used", G, "Items in extstore."),
    ("extstore_bytes_evicted", "memcached_extstore_bytes_evicted_total", C,
     "Bytes evicted from extstore."),
    ("extstore_bytes_written", "memcached_extstore_bytes_written_total", C,
     "Bytes written to extstore."),
    ("extstore_bytes_read", "memcached_extstore_bytes_read_total", C, "Bytes read from extstore."),
    ("extstore_bytes_used", "memcached_extstore_bytes_used", C, "Bytes of items in extstore."),
    ("extstore_bytes_fragmented", "memcached_extstore_bytes_fragmented", G,
     "Bytes of extstore pages allocated but not holding items."),
    ("extstore_limit_maxbytes", "memcached_extstore_bytes_limit", G, "Size of extstore."),
    ("extstore_io_queue", "memcached_extstore_io_queue_depth", G, "Extstore I/O queue depth."),
    # proxy mode (memcached built with --enable-proxy).
    ("proxy_conn_requests", "memcached_proxy_conn_requests_total", C,
     "Backend connections opened by the proxy."),
    ("proxy_conn_errors", "memcached_proxy_conn_errors_total", C,
     "Backend connection errors in proxy mode."),
    ("proxy_conn_oom", "memcached_proxy_conn_oom_total", C,
     "Times the proxy ran out of memory for a connection."),
    ("proxy_req_active", "memcached_proxy_req_active", G, "Requests in flight in the proxy."),
    ("proxy_config_reloads", "memcached_proxy_config_reloads_total", C, "Proxy config reloads."),
    ("proxy_config_reload_fails", "memcached_proxy_config_reload_fails_total", C,
     "Failed proxy config reloads."),
    ("proxy_config_cron_runs", "memcached_proxy_config_cron_runs_total", C,
     "Runs of the proxy's Lua cron hooks."),
    ("proxy_config_cron_fails", "memcached_proxy_config_cron_fails_total", C,
     "Errors of the proxy's Lua cron hooks."),
    ("proxy_backend_total", "memcached_proxy_backend_total", G,
     "Backends configured in the proxy."),
    ("proxy_backend_marked_bad", "memcached_proxy_backend_marked_bad_total", C,
     "Times the proxy marked a backend bad."),
    ("proxy_backend_failed", "memcached_proxy_backend_failed", G, "Backends in a failed state."),
    ("proxy_request_failed_depth", "memcached_proxy_request_failed_depth_total", C,
     "Requests dropped for backend depth limits."),
    ("round_robin_fallback", "memcached_round_robin_fallback_total", C,
     "Times the proxy fell back to round-robin routing."),
    ("unexpected_napi_ids", "memcached_unexpected_napi_ids_total", C,
     "Unexpected NAPI ids seen by worker threads."),
    # Stats memcached_exporter does not export; our names.
    ("threads", "memcached_threads", G, "Worker threads (-t)."),
    ("connection_structures", "memcached_connection_structures", G,
     "Connection structures allocated by the server."),
    ("reserved_fds", "memcached_reserved_fds", G, "File descriptors reserved for internal use."),
    ("time_in_listen_disabled_us", "memcached_connections_listener_disabled_seconds_total", C,
     "Time the listener spent disabled.", 1e-06),
    ("get_expired", "memcached_get_expired_total", C, "Gets that found an expired item."),
    ("get_flushed", "memcached_get_flushed_total", C, "Gets that found a flushed item."),
    ("cmd_meta", "memcached_meta_commands_total", C, "Meta protocol commands."),
    ("auth_cmds", "memcached_auth_commands_total", C, "Authentication commands."),
    ("auth_errors", "memcached_auth_errors_total", C, "Failed authentications."),
    ("expired_unfetched", "memcached_items_expired_unfetched_total", C,
     "Items expired without ever being fetched."),
    ("evicted_unfetched", "memcached_items_evicted_unfetched_total", C,
     "Items evicted without ever being fetched."),
    ("evicted_active", "memcached_items_evicted_active_total", C,
     "Items evicted although they had been fetched recently."),
    ("hash_power_level", "memcached_hash_power_level", G, "Hash table size as a power of two."),
    ("hash_bytes", "memcached_hash_bytes", G, "Bytes used by the hash table."),
    ("hash_is_expanding", "memcached_hash_is_expanding", G, "Whether the hash table is growing."),
    ("malloc_fails", "memcached_malloc_fails_total", C, "Failed memory allocations."),
    ("slabs_moved", "memcached_slabs_moved_total", C, "Slab pages moved between classes."),
    ("slab_global_page_pool", "memcached_slab_global_page_pool", G,
     "Slab pages not assigned to any class."),
    ("active_slabs", "memcached_active_slabs", G, "Slab classes with pages."),
    ("lru_crawler_running", "memcached_lru_crawler_running", G, "Whether an LRU crawl runs."),
    ("lru_maintainer_juggles", "memcached_lru_maintainer_juggles_total", C,
     "LRU maintainer background runs."),
]
# fmt: on

STATS: dict[str, Field] = {row[0]: Field(*row[1:]) for row in _STATS}

# `stats` fields that feed memcached_commands_total: field -> (command, status).
# memcached_exporter's "set" is cmd_set less every CAS, which memcached counts in cmd_set too.
# fmt: off
COMMANDS = {
    "get_hits": ("get", "hit"), "get_misses": ("get", "miss"),
    "delete_hits": ("delete", "hit"), "delete_misses": ("delete", "miss"),
    "incr_hits": ("incr", "hit"), "incr_misses": ("incr", "miss"),
    "decr_hits": ("decr", "hit"), "decr_misses": ("decr", "miss"),
    "cas_hits": ("cas", "hit"), "cas_misses": ("cas", "miss"), "cas_badval": ("cas", "badval"),
    "touch_hits": ("touch", "hit"), "touch_misses": ("touch", "miss"),
    "cmd_flush": ("flush", "hit"),
}
# fmt: on
SET_LESS = ("cas_misses", "cas_hits", "cas_badval")

# Identity, text, or already part of another metric: never exported as untyped.
# max_connections duplicates the maxconns setting and is only used where settings are refused.
SKIPPED = {
    "pid",
    "pointer_size",
    "version",
    "libevent",
    "cmd_get",
    "cmd_set",
    "cmd_touch",
    "max_connections",
}

# `stats settings`: maxconns always; the LRU settings only when lru_crawler is "yes", as
# memcached_exporter does. Values "yes"/"no" become 1/0.
MAX_CONNECTIONS = (
    "maxconns",
    Field("memcached_max_connections", G, "Maximum number of clients allowed."),
)
# fmt: off
LRU_SETTINGS: dict[str, Field] = {
    "lru_crawler": Field("memcached_lru_crawler_enabled", G, "Whether the LRU crawler is on."),
    "lru_crawler_sleep": Field("memcached_lru_crawler_sleep", G,
                               "Microseconds to sleep between LRU crawls."),
    "lru_crawler_tocrawl": Field("memcached_lru_crawler_to_crawl", G,
                                 "Max items to crawl per slab per run."),
    "lru_maintainer_thread": Field("memcached_lru_crawler_maintainer_thread", G,
                                   "Whether the split LRU and its background thread are on."),
    "hot_lru_pct": Field("memcached_lru_crawler_hot_percent", G,
                         "Percent of slab memory reserved for the HOT LRU."),
    "warm_lru_pct": Field("memcached_lru_crawler_warm_percent", G,
                          "Percent of slab memory reserved for the WARM LRU."),
    "hot_max_factor": Field("memcached_lru_crawler_hot_max_factor", G,
                            "Idle age of HOT items, as a multiple of the COLD age."),
    "warm_max_factor": Field("memcached_lru_crawler_warm_max_factor", G,
                             "Idle age of WARM items, as a multiple of the COLD age."),
}
# fmt: on

# `stats slabs`, per slab class (label `slab`).
# fmt: off
SLABS: dict[str, Field] = {
    "chunk_size": Field("memcached_slab_chunk_size_bytes", G, "Bytes of each chunk in the class."),
    "chunks_per_page": Field("memcached_slab_chunks_per_page", G, "Chunks in one page."),
    "total_pages": Field("memcached_slab_current_pages", G, "Pages allocated to the class."),
    "total_chunks": Field("memcached_slab_current_chunks", G, "Chunks allocated to the class."),
    "used_chunks": Field("memcached_slab_chunks_used", G, "Chunks holding an item."),
    "free_chunks": Field("memcached_slab_chunks_free", G, "Chunks not holding an item."),
    "free_chunks_end": Field("memcached_slab_chunks_free_end", G,
                             "Free chunks at the end of the last allocated page."),
    "mem_requested": Field("memcached_slab_mem_requested_bytes", G,
                           "Bytes the items of the class take up."),
}
# fmt: on
# Per-class hits only: memcached keeps no per-class misses. "set" is cmd_set less CAS hits
# and bad values, as memcached_exporter computes it.
# fmt: off
SLAB_COMMANDS = {
    "get_hits": ("get", "hit"), "delete_hits": ("delete", "hit"), "incr_hits": ("incr", "hit"),
    "decr_hits": ("decr", "hit"), "cas_hits": ("cas", "hit"), "cas_badval": ("cas", "badval"),
    "touch_hits": ("touch", "hit"),
}
# fmt: on
SLAB_SET_LESS = ("cas_hits", "cas_badval")

# `stats items`, per slab class (label `slab`). mem_requested moved here from `stats
# slabs` in memcached 1.6; it feeds the same family, once.
# fmt: off
ITEMS: dict[str, Field] = {
    "number": Field("memcached_slab_current_items", G, "Items stored in the class."),
    "age": Field("memcached_slab_items_age_seconds", G, "Age of the oldest item in the class."),
    "number_hot": Field("memcached_slab_hot_items", G, "Items in the HOT LRU."),
    "number_warm": Field("memcached_slab_warm_items", G, "Items in the WARM LRU."),
    "number_cold": Field("memcached_slab_cold_items", G, "Items in the COLD LRU."),
    "number_temp": Field("memcached_slab_temporary_items", G, "Items in the TEMPORARY LRU."),
    "age_hot": Field("memcached_slab_hot_age_seconds", G, "Age of the oldest item in HOT."),
    "age_warm": Field("memcached_slab_warm_age_seconds", G, "Age of the oldest item in WARM."),
    "mem_requested": SLABS["mem_requested"],
    "evicted": Field("memcached_slab_items_evicted_total", C,
                     "Items evicted from the LRU before they expired."),
    "evicted_nonzero": Field("memcached_slab_items_evicted_nonzero_total", C,
                             "Items with an expiry time evicted before they expired."),
    "evicted_time": Field("memcached_slab_items_evicted_time_seconds", C,
                          "Seconds since the last access of the most recently evicted item."),
    "evicted_unfetched": Field("memcached_slab_items_evicted_unfetched_total", C,
                               "Items evicted without ever being fetched."),
    "expired_unfetched": Field("memcached_slab_items_expired_unfetched_total", C,
                               "Items expired without ever being fetched."),
    "outofmemory": Field("memcached_slab_items_outofmemory_total", C,
                         "Times the class could not store an item for lack of memory."),
    "reclaimed": Field("memcached_slab_items_reclaimed_total", C,
                       "Times an item was stored in memory of an expired item."),
    "tailrepairs": Field("memcached_slab_items_tailrepairs_total", C,
                         "Times an LRU tail item had to be repaired."),
    "crawler_reclaimed": Field("memcached_slab_items_crawler_reclaimed_total", C,
                               "Items freed by the LRU crawler."),
    "moves_to_cold": Field("memcached_slab_items_moves_to_cold", C,
                           "Items moved from HOT or WARM to COLD."),
    "moves_to_warm": Field("memcached_slab_items_moves_to_warm", C,
                           "Items moved from COLD to WARM."),
    "moves_within_lru": Field("memcached_slab_items_moves_within_lru", C,
                              "Items bumped within HOT or WARM."),
}
# fmt: on
# `stats items` hits per LRU segment -> memcached_slab_lru_hits_total{slab, lru}.
LRU_HITS = {
    "hits_to_hot": "hot",
    "hits_to_warm": "warm",
    "hits_to_cold": "cold",
    "hits_to_temp": "temporary",
}
