"""Keyspace insight: a budgeted background sampler of keys, groups, big and hot keys, streams."""
