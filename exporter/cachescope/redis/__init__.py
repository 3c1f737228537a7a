"""Redis (and Valkey, KeyDB): client, reply guard, pure parsers, field tables and the collector."""
