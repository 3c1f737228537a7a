"""--append-instance-role-label: every series of a Redis target says whether it is master or slave.

As redis_exporter's flag of the same name: the label is `instance_role`, its value
INFO's `role` field ("master" or "slave"). Off by default, as it changes a series'
identity at failover.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from cachescope.config.loader import parse_config
from cachescope.config.yamlmarks import ConfigError
from servers import Exposition, RedisServer, StartExporter, wait_for, wait_for_link_up


def name(server: RedisServer) -> str:
    return f"127.0.0.1:{server.port}"


def roles(metrics: Exposition, instance: str) -> set[str | None]:
    """The instance_role values of the target's series (None: a series without one)."""
    return {
        labels.get("instance_role")
        for _, labels, _ in metrics.samples
        if labels.get("instance") == instance
    }


def test_every_series_carries_the_role_of_its_server_when_asked(
    primary_and_replica: tuple[RedisServer, RedisServer], start_exporter: StartExporter
) -> None:
    primary, replica = primary_and_replica
    exporter = start_exporter(
        "--target", primary.uri, "--target", replica.uri, "--append-instance-role-label"
    )
    metrics = exporter.metrics()
    assert roles(metrics, name(primary)) == {"master"}
    assert roles(metrics, name(replica)) == {"slave"}
    # the labels a join needs stay as they were
    assert metrics.value("redis_up", instance=name(primary), instance_role="master") == 1
    assert metrics.value("redis_instance_info", instance=name(replica), role="slave") == 1


def test_no_role_label_by_default(
    primary_and_replica: tuple[RedisServer, RedisServer], start_exporter: StartExporter
) -> None:
    primary, replica = primary_and_replica
    metrics = start_exporter("--target", primary.uri, "--target", replica.uri).metrics()
    assert roles(metrics, name(primary)) == {None}
    assert roles(metrics, name(replica)) == {None}


def test_redis_exporter_variable_turns_it_on(
    redis_server: RedisServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter(
        "--target",
        redis_server.uri,
        env={"REDIS_EXPORTER_APPEND_INSTANCE_ROLE_LABEL": "true"},
    )
    assert roles(exporter.metrics(), name(redis_server)) == {"master"}


def test_config_file_turns_it_on_per_target(
    primary_and_replica: tuple[RedisServer, RedisServer],
    start_exporter: StartExporter,
    tmp_path: Path,
) -> None:
    primary, replica = primary_and_replica
    config = tmp_path / "cachescope.yml"
    config.write_text(
        f"targets:\n"
        f"  - uri: {primary.uri}\n"
        f"    append_instance_role_label: true\n"
        f"  - uri: {replica.uri}\n"
    )
    metrics = start_exporter("--config.file", str(config)).metrics()
    assert roles(metrics, name(primary)) == {"master"}
    assert roles(metrics, name(replica)) == {None}


def test_failover_moves_the_series_to_the_new_role_and_a_down_server_keeps_its_last(
    primary_and_replica: tuple[RedisServer, RedisServer], start_exporter: StartExporter
) -> None:
    primary, replica = primary_and_replica
    exporter = start_exporter(
        "--target", replica.uri, "--timeout", "1s", "--append-instance-role-label"
    )
    assert roles(exporter.metrics(), name(replica)) == {"slave"}
    replica.client().execute_command("REPLICAOF", "NO", "ONE")
    wait_for(lambda: roles(exporter.metrics(), name(replica)) == {"master"}, what="promotion")
    primary.client().execute_command("REPLICAOF", "127.0.0.1", str(replica.port))
    wait_for_link_up(primary)
    replica.pause()
    try:
        # redis_up 0 stays the same series as redis_up 1 was: the last role known
        wait_for(
            lambda: (
                exporter.metrics().get("redis_up", instance=name(replica), instance_role="master")
                == [0.0]
            ),
            what="redis_up 0 with the last known role",
            timeout=30,
        )
    finally:
        replica.resume()


def test_redis_options_on_a_memcached_target_name_file_line_and_field() -> None:
    text = "targets:\n  - uri: memcached://127.0.0.1:11211\n    append_instance_role_label: true\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "fleet.yml")
    message = str(caught.value)
    assert message.startswith("fleet.yml:3: targets[0].append_instance_role_label:")
    assert "append_instance_role_label is for Redis targets" in message


def test_scrape_endpoint_target_of_an_allow_rule_gets_the_flags_options(
    redis_server: RedisServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter(
        "--target",
        "redis://127.0.0.1:1",  # a configured target elsewhere; the one asked for is not listed
        "--scrape.allow",
        "redis://127.0.0.1:*",
        "--append-instance-role-label",
        "--redis.client-breakdown",
    )
    status, text = exporter.get("/scrape?target=" + quote(redis_server.uri, safe=""))
    assert status == 200
    metrics = Exposition(text)
    assert metrics.value("redis_up", instance_role="master") == 1
    assert metrics.value("redis_connected_clients_by_name", client_name="cachescope") == 1
