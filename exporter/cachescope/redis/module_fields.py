"""The INFO fields of modules' own sections, named as redis_exporter names them.

    redis_search_number_of_indexes 3
    redis_search_used_memory_indexes_bytes 1.2e+06
    redis_search_indexing_time_ms_total 41

A module's section comes with `INFO MODULES` (or `INFO EVERYTHING`), never with
`INFO ALL`; the collector asks for it only where `INFO ALL` lists a module. The
rows are RediSearch's (`search_*`: Redis Stack 7.4 and Redis 8's built-in search,
and valkey-search's), Valkey's bloom (`bf_*`) and JSON (`json_*`) modules. The
names, units (milliseconds stay milliseconds) and types are redis_exporter's,
quirks included (counters named `_count` without `_total`), so its dashboards
work unchanged. A field of a module not listed here is exported untyped.
"""

from __future__ import annotations

from cachescope.exposition.textformat import COUNTER, GAUGE

G, C = GAUGE, COUNTER
_S = "RediSearch: "

# INFO field, metric name after `redis_`, type, help.
MODULE_TABLE: list[tuple[str, str, str, str]] = [
    # RediSearch 2 and Redis Stack 7.4
    ("search_number_of_indexes", "search_number_of_indexes", G, _S + "indexes."),
    ("search_used_memory_indexes", "search_used_memory_indexes_bytes", G, _S + "index memory."),
    ("search_total_indexing_time", "search_indexing_time_ms_total", C, _S + "ms indexing."),
    ("search_dialect_1", "search_dialect_1", G, _S + "queries used dialect 1 (0 or 1)."),
    ("search_dialect_2", "search_dialect_2", G, _S + "queries used dialect 2 (0 or 1)."),
    ("search_dialect_3", "search_dialect_3", G, _S + "queries used dialect 3 (0 or 1)."),
    ("search_dialect_4", "search_dialect_4", G, _S + "queries used dialect 4 (0 or 1)."),
    ("search_global_idle", "search_global_idle", G, _S + "idle cursors."),
    ("search_global_total", "search_global_total", G, _S + "cursors."),
    ("search_bytes_collected", "search_collected_bytes", G, _S + "bytes freed by the GC."),
    ("search_total_cycles", "search_cycles_total", C, _S + "GC cycles."),
    ("search_total_ms_run", "search_run_ms_total", C, _S + "ms the GC ran."),
    # RediSearch 8 (Redis 8)
    ("search_number_of_active_indexes", "search_number_of_active_indexes", G, _S + "busy indexes."),
    (
        "search_number_of_active_indexes_running_queries",
        "search_number_of_active_indexes_running_queries",
        G,
        _S + "indexes running queries.",
    ),
    (
        "search_number_of_active_indexes_indexing",
        "search_number_of_active_indexes_indexing",
        G,
        _S + "indexes indexing.",
    ),
    (
        "search_total_active_write_threads",
        "search_total_active_write_threads",
        G,
        _S + "write threads at work.",
    ),
    (
        "search_total_num_docs_in_indexes",
        "search_total_num_docs_in_indexes",
        G,
        _S + "documents in all indexes.",
    ),
    (
        "search_smallest_memory_index",
        "search_smallest_memory_index_bytes",
        G,
        _S + "memory of the smallest index.",
    ),
    (
        "search_largest_memory_index",
        "search_largest_memory_index_bytes",
        G,
        _S + "memory of the largest index.",
    ),
    (
        "search_used_memory_vector_index",
        "search_used_memory_vector_index_bytes",
        G,
        _S + "vector index memory.",
    ),
    ("search_global_idle_user", "search_global_idle_user", G, _S + "idle user cursors."),
    (
        "search_global_idle_internal",
        "search_global_idle_internal",
        G,
        _S + "idle internal cursors.",
    ),
    ("search_global_total_user", "search_global_total_user", G, _S + "user cursors."),
    ("search_global_total_internal", "search_global_total_internal", G, _S + "internal cursors."),
    ("search_gc_bytes_collected", "search_gc_collected_bytes", G, _S + "bytes freed by the GC."),
    (
        "search_gc_total_docs_not_collected",
        "search_gc_total_docs_not_collected",
        G,
        _S + "deleted documents the GC has yet to free.",
    ),
    (
        "search_gc_marked_deleted_vectors",
        "search_gc_marked_deleted_vectors",
        G,
        _S + "vectors marked deleted.",
    ),
    (
        "search_errors_indexing_failures",
        "search_errors_indexing_failures",
        G,
        _S + "documents that failed to index, in all indexes.",
    ),
    ("search_gc_total_cycles", "search_gc_cycles_total", C, _S + "GC cycles."),
    ("search_gc_total_ms_run", "search_gc_run_ms_total", C, _S + "ms the GC ran."),
    (
        "search_total_queries_processed",
        "search_queries_processed_total",
        C,
        _S + "queries processed.",
    ),
    ("search_total_query_commands", "search_query_commands_total", C, _S + "query commands."),
    (
        "search_total_query_execution_time_ms",
        "search_query_execution_time_ms_total",
        C,
        _S + "ms spent running queries.",
    ),
    ("search_total_active_queries", "search_active_queries_total", C, _S + "active queries."),
    # Valkey's bundled modules (valkey-bloom, valkey-json, valkey-search)
    ("bf_bloom_total_memory_bytes", "bf_bloom_total_memory_bytes", G, "Bloom filters' memory."),
    ("bf_bloom_num_objects", "bf_bloom_num_objects", G, "Bloom filter objects."),
    (
        "bf_bloom_num_filters_across_objects",
        "bf_bloom_num_filters_across_objects",
        G,
        "Bloom filters in all objects.",
    ),
    (
        "bf_bloom_num_items_across_objects",
        "bf_bloom_num_items_across_objects",
        G,
        "Items in all bloom objects.",
    ),
    (
        "bf_bloom_capacity_across_objects",
        "bf_bloom_capacity_across_objects",
        G,
        "Capacity of all bloom objects.",
    ),
    ("bf_bloom_defrag_hits", "bf_bloom_defrag_hits_total", C, "Bloom defrag hits."),
    ("bf_bloom_defrag_misses", "bf_bloom_defrag_misses_total", C, "Bloom defrag misses."),
    ("json_total_memory_bytes", "json_total_memory_bytes", G, "JSON documents' memory."),
    ("json_num_documents", "json_num_documents", G, "JSON documents."),
    ("search_used_memory_bytes", "search_used_memory_bytes", G, "valkey-search memory."),
    ("search_number_of_attributes", "search_number_of_attributes", G, "Indexed attributes."),
    ("search_total_indexed_documents", "search_total_indexed_documents", G, "Indexed documents."),
    ("search_query_queue_size", "search_query_queue_size", G, "Queries queued."),
    ("search_writer_queue_size", "search_writer_queue_size", G, "Writes queued."),
    (
        "search_string_interning_store_size",
        "search_string_interning_store_size",
        G,
        "Interned strings.",
    ),
    (
        "search_vector_externing_hash_extern_errors",
        "search_vector_externing_hash_extern_errors",
        G,
        "Vector externing errors.",
    ),
    (
        "search_vector_externing_num_lru_entries",
        "search_vector_externing_num_lru_entries",
        G,
        "Vector externing LRU entries.",
    ),
    *(
        (field, field.removesuffix("_cnt") + ("_count" if field.endswith("_cnt") else ""), C, h)
        for field, h in (
            ("search_worker_pool_suspend_cnt", "Worker pool suspensions."),
            ("search_writer_resumed_cnt", "Writer resumptions."),
            ("search_reader_resumed_cnt", "Reader resumptions."),
            ("search_writer_suspension_expired_cnt", "Writer suspensions expired."),
            ("search_rdb_load_success_cnt", "Index RDB loads that succeeded."),
            ("search_rdb_load_failure_cnt", "Index RDB loads that failed."),
            ("search_rdb_save_success_cnt", "Index RDB saves that succeeded."),
            ("search_rdb_save_failure_cnt", "Index RDB saves that failed."),
            ("search_successful_requests_count", "Search requests that succeeded."),
            ("search_failure_requests_count", "Search requests that failed."),
            ("search_hybrid_requests_count", "Hybrid search requests."),
            ("search_inline_filtering_requests_count", "Inline-filtering search requests."),
            ("search_hnsw_add_exceptions_count", "HNSW add exceptions."),
            ("search_hnsw_remove_exceptions_count", "HNSW remove exceptions."),
            ("search_hnsw_modify_exceptions_count", "HNSW modify exceptions."),
            ("search_hnsw_search_exceptions_count", "HNSW search exceptions."),
            ("search_hnsw_create_exceptions_count", "HNSW create exceptions."),
            ("search_vector_externing_entry_count", "Vector externing entries."),
            ("search_vector_externing_generated_value_cnt", "Vector externing generated values."),
            ("search_vector_externing_lru_promote_cnt", "Vector externing LRU promotions."),
            ("search_vector_externing_deferred_entry_cnt", "Vector externing deferred entries."),
        )
    ),
]
