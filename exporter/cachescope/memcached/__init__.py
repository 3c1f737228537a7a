"""Memcached: client, pure parsers, field tables and the collector."""
