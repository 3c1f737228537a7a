"""A running exporter given a hostile config on reload: a located 400, and it carries on."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from servers import Exporter, RedisServer, wait_for
from test_config_hostile import ALIAS_BOMB


def hostile_files(tmp_path: Path, uri: str) -> list[tuple[bytes, int, str]]:
    """(content, line of the error, words of the message) for each attack."""
    fifo = tmp_path / "pw-fifo"
    os.mkfifo(fifo)
    target = f"targets:\n  - uri: {uri}\n    name: first\n"
    return [
        (f"{target}    timeout: .nan\n".encode(), 4, "between 1ms and 10m"),
        (f"{target}    timeout: 99999999999h\n".encode(), 4, "between 1ms and 10m"),
        (ALIAS_BOMB.encode(), 0, "aliases"),  # 0: whichever line the budget ran out on
        (b"targets: &loop [*loop]\n", 1, "recursive alias"),
        (b"targets:\n  - uri: !!int abc\n", 2, "not a valid !!int value"),
        (b"targets:\n  - !cachescope redis://a:1\n", 2, "unsupported tag"),
        (f"{target}    name: again\n".encode(), 4, "duplicate key"),
        (target.encode() + b"    labels: {team: caf\xe9}\n", 4, "not UTF-8"),
        (f"{target}    password_file: /dev/zero\n".encode(), 4, "not a regular file"),
        (f"{target}    password_file: {fifo}\n".encode(), 4, "not a regular file"),
        (f"{target}    password_file: {tmp_path}\n".encode(), 4, "not a regular file"),
    ]


def test_reload_answers_each_hostile_file_with_a_located_400_and_keeps_the_targets(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    redis: RedisServer = start_redis()
    config = tmp_path / "cachescope.yml"
    config.write_text(f"targets:\n  - uri: {redis.uri}\n    name: first\n")
    exporter: Exporter = start_exporter("--config.file", str(config))
    for content, line, words in hostile_files(tmp_path, redis.uri):
        config.write_bytes(content)
        status, body = exporter.post("/-/reload", timeout=20)
        assert status == 400, (content, body)
        assert f"{config}:{line or ''}" in body and words in body, (content, body)
        assert "Traceback" not in body
        assert exporter.metrics().value("redis_up", instance="first") == 1
    assert "Traceback" not in exporter.log()


def test_sighup_survives_hostile_files_and_applies_the_next_good_one(
    start_redis,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    first, second = start_redis(), start_redis()
    config = tmp_path / "cachescope.yml"
    good = f"targets:\n  - uri: {first.uri}\n    name: first\n"
    config.write_text(good)
    exporter: Exporter = start_exporter("--config.file", str(config))
    attacks = [content for content, _, _ in hostile_files(tmp_path, first.uri)]
    for content in (attacks[3], attacks[4], attacks[2], attacks[-1]):
        refused = exporter.log().count("reload refused")
        config.write_bytes(content)
        exporter.proc.send_signal(signal.SIGHUP)
        wait_for(
            lambda n=refused: exporter.log().count("reload refused") > n,
            what=f"SIGHUP reload of {content[:40]!r} to be refused: {exporter.log()}",
        )
    config.write_text(f"{good}  - uri: {second.uri}\n    name: second\n")
    exporter.proc.send_signal(signal.SIGHUP)
    wait_for(
        lambda: exporter.metrics().get("redis_up", instance="second") == [1.0],
        what="SIGHUP reload to add the second target",
    )
    assert exporter.metrics().value("redis_up", instance="first") == 1
    assert "Traceback" not in exporter.log()
