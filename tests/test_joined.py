"""Joined: many targets' families in one response, one HELP and TYPE per family."""

from __future__ import annotations

from cachescope.exposition.families import MetricSet
from cachescope.exposition.joined import Joined
from cachescope.exposition.textformat import COUNTER, GAUGE


def target(instance: str, key: str) -> MetricSet:
    metrics = MetricSet((("instance", instance),))
    metrics.add("redis_up", GAUGE, "Up.", 1)
    metrics.add("redis_big_key_bytes", GAUGE, "Big keys.", 42, (("key", key),))
    return metrics


def test_families_of_many_targets_come_out_together_in_first_seen_order() -> None:
    joined = Joined()
    joined.add(target("a", "cart:1").rendered())
    joined.add(target("b", "café").rendered())  # not ASCII: encoded family by family
    other = MetricSet((("instance", "c"),))
    other.add("redis_commands_total", COUNTER, "Calls.", 7, (("cmd", "get"),))
    other.add("redis_up", GAUGE, "Up.", 0)
    joined.add(other.rendered())
    joined.add_family("memcached_up", b"# HELP memcached_up Up.\n", [b'memcached_up{x="1"} 1\n'])
    body = b"".join(joined.chunks())
    assert body.decode() == (
        "# HELP redis_up Up.\n# TYPE redis_up gauge\n"
        'redis_up{instance="a"} 1\nredis_up{instance="b"} 1\nredis_up{instance="c"} 0\n'
        "# HELP redis_big_key_bytes Big keys.\n# TYPE redis_big_key_bytes gauge\n"
        'redis_big_key_bytes{instance="a",key="cart:1"} 42\n'
        'redis_big_key_bytes{instance="b",key="café"} 42\n'
        "# HELP redis_commands_total Calls.\n# TYPE redis_commands_total counter\n"
        'redis_commands_total{instance="c",cmd="get"} 7\n'
        "# HELP memcached_up Up.\n"
        'memcached_up{x="1"} 1\n'
    )
    assert joined.size() == len(body)
    found = joined.family_sizes()
    sizes = dict(zip(found.names, found.sizes, strict=True))
    assert sizes["redis_big_key_bytes"] == len(
        'redis_big_key_bytes{instance="a",key="cart:1"} 42\n'
        'redis_big_key_bytes{instance="b",key="café"} 42\n'.encode()
    )


def test_a_worker_family_joins_the_same_family_of_local_targets() -> None:
    joined = Joined()
    joined.add(target("a", "k").rendered())
    joined.add_family("redis_up", b"# HELP redis_up other help\n", [b'redis_up{instance="w"} 1\n'])
    text = b"".join(joined.chunks()).decode()
    assert text.count("# HELP redis_up") == 1  # the first header seen stays
    assert 'redis_up{instance="a"} 1\nredis_up{instance="w"} 1\n' in text
