"""Break-it tests for issue #20: a redis_exporter or memcached_exporter user switches in one line.

Every test here was written against a break found from the outside (README.md,
docs/migrating.md, `--help`) and FAILS on the code it was written against: each says, in
a comment, what is broken and which promise it breaks. They are regression tests: they
pass once the break is fixed, and must not be marked xfail or skip.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from servers import Exporter, Listener, MemcachedServer, StartExporter, StartRedis, free_port

pytestmark = pytest.mark.live

PASSWORD = "br3akit-Pa55word-q7"  # distinctive, so a leak anywhere is found by substring


def start_or_exit(*args: str, env: dict[str, str] | None = None) -> tuple[int | None, str]:
    """Start `cachescope serve ARGS`; (None, log) once it serves, or (exit code, output).

    Unlike the Exporter fixture, a refusal at start fails fast with the message.
    """
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="cachescope-breakit-"))
    log_path = workdir / "exporter.log"
    command = [sys.executable, "-m", "cachescope", "serve"]
    command += ["--web.listen-address", f"127.0.0.1:{port}", *args]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            env=dict(os.environ, **(env or {})),
        )
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    return proc.returncode, log_path.read_text(errors="replace")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1):
                        return None, log_path.read_text(errors="replace")
                except (urllib.error.URLError, OSError):
                    time.sleep(0.1)
            raise TimeoutError(log_path.read_text(errors="replace"))
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)


# -- logs --------------------------------------------------------------------------------


def test_client_breakdown_skipped_log_has_its_fields_as_keys(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    # Broke: the "client breakdown skipped" warning packs its fields into the message:
    #   {"level": "warn", "msg": "target=127.0.0.1:PORT client breakdown skipped:
    #    reason=refused (more than 20000 clients ...)"}
    # (the same in logfmt: msg="target=... reason=..."), so there is no `target` or
    # `reason` key to filter on. Promise: logs are real logfmt / JSON, `level, ts, msg,
    # then one key per field`, as every other warning ("scrape failed" target=...) is.
    server = start_redis()
    server.client().acl_setuser(
        "monitor",
        enabled=True,
        passwords=[f"+{PASSWORD}"],
        commands=["+@all", "-client|list"],  # CLIENT LIST refused: the breakdown is skipped
    )
    exporter = start_exporter(
        "--target",
        f"redis://monitor@127.0.0.1:{server.port}",
        "--redis.client-breakdown",
        "--log.format",
        "json",
        env={"REDIS_PASSWORD": PASSWORD},
    )
    metrics = exporter.metrics()
    instance = f"127.0.0.1:{server.port}"
    assert metrics.value("redis_up", instance=instance) == 1
    assert (
        metrics.value("cachescope_client_breakdown_skipped", instance=instance, reason="refused")
        == 1
    )
    time.sleep(0.3)  # the log line is written from the scrape
    records = [json.loads(line) for line in exporter.log().splitlines() if line.startswith("{")]
    skipped = [r for r in records if "breakdown" in r.get("msg", "")]
    assert skipped, exporter.log()
    for record in skipped:
        assert list(record)[:3] == ["ts", "level", "msg"]
        assert "target=" not in record["msg"], record  # a field hidden inside the message
        assert "reason=" not in record["msg"], record
        assert record.get("target") == instance, record
        assert record.get("reason") == "refused", record
    assert PASSWORD not in exporter.log()


# -- flags and variables: never silently ignored -------------------------------------------


def test_redis_addr_is_not_silently_dropped_beside_memcached_address(
    start_redis: StartRedis, memcached_server: MemcachedServer
) -> None:
    # Broke: one cachescope replacing both exporters, as docs/migrating.md's two "after"
    # lines suggest merged into one process:
    #   REDIS_ADDR=redis://... REDIS_PASSWORD=... cachescope serve --memcached.address=HOST:PORT
    # watches only the Memcached target (cachescope_targets 1). --memcached.address becomes a
    # --target, the command line wins over REDIS_ADDR, and the Redis target (with its
    # REDIS_PASSWORD) is dropped with no log line and no refusal. Promise: a peer's variable
    # either does the same thing or is refused with a message; never silently ignored.
    redis_server = start_redis(password=PASSWORD)
    exporter = Exporter(
        f"--memcached.address=127.0.0.1:{memcached_server.port}",
        env={"REDIS_ADDR": redis_server.uri, "REDIS_PASSWORD": PASSWORD},
    )
    try:
        metrics = exporter.metrics()
        assert metrics.value("memcached_up", instance=f"127.0.0.1:{memcached_server.port}") == 1
        log = exporter.log()
        watched = metrics.get("redis_up", instance=f"127.0.0.1:{redis_server.port}")
        # Either REDIS_ADDR is a target too (and its password works) ...
        # ... or the log says plainly that REDIS_ADDR is not used.
        assert watched == [1] or "REDIS_ADDR" in log, (metrics.get("cachescope_targets"), log)
        assert PASSWORD not in log
    finally:
        exporter.stop()


@pytest.mark.parametrize(
    "flag",
    [
        "--memcached.timeout=1m30s",  # memcached_exporter takes any Go duration
        "-connection-timeout=2m0s",  # how Go prints a duration (time.Duration.String)
        "-connection-timeout=1.5s",  # accepted: the control case
    ],
)
def test_go_compound_durations_are_accepted(flag: str) -> None:
    # Broke: a timeout that redis_exporter and memcached_exporter accept (Go's
    # time.ParseDuration: "1m30s", "2m0s") stops cachescope at start:
    #   Error: --timeout: must be a duration between 1ms and 10m (as 250ms, 5s, 1m or 1h),
    #   not '1m30s'
    # Promise: these flags are "the same: --timeout", so a deployment's working value must
    # keep working after the one-line switch.
    code, output = start_or_exit(flag, "--target", "127.0.0.1:1")
    assert code is None, output


# -- the client breakdown and a target's own labels ----------------------------------------


_LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def duplicate_label_lines(text: str) -> list[str]:
    """Sample lines that name one label twice: a text exposition Prometheus cannot parse."""
    bad = []
    for line in text.splitlines():
        if line.startswith("#") or "{" not in line:
            continue
        names = [n for n, _ in _LABEL_PAIR.findall(line.split("{", 1)[1].rsplit("}", 1)[0])]
        if len(names) != len(set(names)):
            bad.append(line)
    return bad


@pytest.mark.parametrize("label", ["client_name", "idle", "family"])
def test_a_target_label_never_duplicates_a_client_breakdown_label(
    start_redis: StartRedis, start_exporter: StartExporter, tmp_path: Path, label: str
) -> None:
    # Broke: `labels: {client_name: ...}` (or idle, family) passes `config check`, while
    # `job`, `instance`, `role`, `cmd`, `slab` ... are refused as "not a usable label name".
    # With `client_breakdown: true` /metrics then has
    #   redis_connected_clients_by_name{instance="dup",client_name="c",...,client_name="cachescope"}
    # which Prometheus (and `promtool check metrics`) cannot parse: "duplicate label names",
    # so the WHOLE /metrics scrape fails and every other target's series are lost with it.
    # Promise: a broken target costs only itself; the breakdown is an opt-in that must not
    # make the exposition invalid. Refusing the label at load, as for `role`, is a fix too.
    server = start_redis()
    other = start_redis()
    config = tmp_path / "cachescope.yml"
    config.write_text(
        "targets:\n"
        f"  - uri: redis://127.0.0.1:{server.port}\n"
        "    name: dup\n"
        f"    labels: {{{label}: mine}}\n"
        "    client_breakdown: true\n"
        f"  - uri: redis://127.0.0.1:{other.port}\n"
        "    name: bystander\n"
    )
    code, output = start_or_exit("--config.file", str(config))
    if code is not None:  # refused at load: fine if it names the label
        assert label in output, output
        return
    exporter = start_exporter("--config.file", str(config))
    status, body = exporter.get("/metrics")
    assert status == 200
    assert duplicate_label_lines(body) == [], duplicate_label_lines(body)[:3]


# -- the scrape deadline -------------------------------------------------------------------


def test_a_target_cut_by_prometheus_deadline_is_not_logged_as_its_own_timeout(
    start_redis: StartRedis, start_exporter: StartExporter, listener: Listener
) -> None:
    # Broke: with X-Prometheus-Scrape-Timeout-Seconds: 1 and a target timeout of 5s,
    # /metrics rightly answers in under a second with the hung target down, but the log
    # says
    #   level=warn msg="scrape failed" target=... error=timeout detail="no reply within 5s"
    #   hint="... raise the target's timeout"
    # (redis_exporter_last_scrape_error{err} too): the target was given under 1s, and
    # raising its timeout changes nothing; Prometheus' scrape_timeout is what cut it.
    # Promise: a log line has "the cause and a hint"; this one states a false cause.
    healthy = start_redis()
    exporter = start_exporter(
        "--target",
        f"redis://127.0.0.1:{listener.port}",
        "--target",
        healthy.uri,
        "--timeout",
        "5s",
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{exporter.port}/metrics",
        headers={"X-Prometheus-Scrape-Timeout-Seconds": "1"},
    )
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read().decode()
    assert time.monotonic() - started < 1.5  # the deadline itself holds
    hung = f"127.0.0.1:{listener.port}"
    assert f'redis_up{{instance="{hung}"}} 0' in body
    assert f'redis_up{{instance="127.0.0.1:{healthy.port}"}} 1' in body
    time.sleep(0.5)
    lines = [line for line in exporter.log().splitlines() if f"target={hung}" in line]
    assert lines, exporter.log()
    for line in lines:
        assert "within 5s" not in line, line
    errors = [
        line for line in body.splitlines() if line.startswith("redis_exporter_last_scrape_error")
    ]
    assert not any("within 5s" in line for line in errors if hung in line), errors


# -- the command line wins over any variable ------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "flag"),
    [
        ("CACHESCOPE_APPEND_INSTANCE_ROLE_LABEL", "-append-instance-role-label=false"),
        ("CACHESCOPE_APPEND_INSTANCE_ROLE_LABEL", "--append-instance-role-label=false"),
    ],
)
def test_a_false_peer_bool_flag_wins_over_a_true_variable(
    start_redis: StartRedis, start_exporter: StartExporter, variable: str, flag: str
) -> None:
    # Broke: CACHESCOPE_APPEND_INSTANCE_ROLE_LABEL=true and, on the command line,
    # redis_exporter's `-append-instance-role-label=false`: every series still gets
    # instance_role="master", and the start log claims
    #   msg="--append-instance-role-label=false changes nothing"
    # Promise (docs/migrating.md): "Where both are set, the command line wins over any
    # variable"; and a flag is never silently ignored.
    server = start_redis()
    exporter = start_exporter("--target", server.uri, flag, env={variable: "true"})
    metrics = exporter.metrics()
    instance = f"127.0.0.1:{server.port}"
    assert metrics.get("redis_up", instance=instance) == [1]
    roles = [labels for name, labels, _ in metrics.samples if name == "redis_up"]
    assert all("instance_role" not in labels for labels in roles), roles


def test_skip_tls_verification_false_on_the_command_line_wins_over_the_variable(
    start_redis: StartRedis, start_exporter: StartExporter, tls_certs: dict[str, str]
) -> None:
    # BROKEN (security): CACHESCOPE_TLS_INSECURE_SKIP_VERIFY=true in the environment and
    # redis_exporter's `-skip-tls-verification=false` on the command line: the command line
    # should win (docs/migrating.md), so the certificate is verified and, with no CA given
    # for this test CA, the target is down with error="tls". Instead the variable wins and
    # the unverifiable server is scraped (redis_up 1), with a log line saying
    # "--skip-tls-verification=false changes nothing".
    server = start_redis(tls=tls_certs)
    exporter = start_exporter(
        "--target",
        server.uri,
        "-skip-tls-verification=false",
        env={"CACHESCOPE_TLS_INSECURE_SKIP_VERIFY": "true"},
    )
    metrics = exporter.metrics()
    instance = f"127.0.0.1:{server.port}"
    assert metrics.value("redis_up", instance=instance) == 0, exporter.log()
    assert metrics.scrape_errors(instance).get("tls", 0) >= 1, metrics.scrape_errors(instance)


# -- no traceback ever reaches a user ------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--web.listen-address=:99999"], {}),
        (["-web.listen-address", "127.0.0.1:65536"], {}),
        ([], {"REDIS_EXPORTER_WEB_LISTEN_ADDRESS": ":70000"}),  # redis_exporter's variable
    ],
)
def test_a_listen_port_out_of_range_is_a_message_not_a_traceback(
    args: list[str], env: dict[str, str]
) -> None:
    # Broke: a listen port above 65535 passes the HOST:PORT check and reaches bind():
    #   Traceback (most recent call last): ...
    #     File ".../cachescope/web/server.py", line 93, in __init__
    #   OverflowError: bind(): port must be 0-65535.
    # (`:-1` is refused cleanly: "listen address ':-1' must look like HOST:PORT or :PORT".)
    # Promise: no traceback ever reaches a user; a bad flag is refused with a message.
    command = [sys.executable, "-m", "cachescope", "serve", *args, "--target", "127.0.0.1:1"]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, **env),
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    assert "65535" in output or "port" in output.lower(), output


# -- --web.telemetry-path: served, or refused -----------------------------------------------


@pytest.mark.parametrize(
    ("path", "request_path"),
    [("/m?x=1", "/m%3Fx=1"), ("/m m", "/m%20m"), ("/métrics", "/m%C3%A9trics")],
)
def test_a_telemetry_path_is_either_served_or_refused(
    start_redis: StartRedis, path: str, request_path: str
) -> None:
    # Broke: `--web.telemetry-path` with a '?', a space or non-ASCII text is accepted at
    # start, but no request reaches it (404 for the raw and the percent-encoded spelling),
    # so the path a migrating Prometheus job scrapes is silently dead. `metrics` (no '/')
    # and `/scrape` are refused with a message; these should be too (or be served).
    # Promise: a peer's flag does the same thing or is refused with a message; never
    # silently ignored.
    server = start_redis()
    code, output = start_or_exit(f"--web.telemetry-path={path}", "--target", server.uri)
    if code is not None:
        assert "--web.telemetry-path" in output, output
        return
    exporter = Exporter(f"--web.telemetry-path={path}", "--target", server.uri)
    try:
        status, body = exporter.get(request_path)
        assert status == 200 and "redis_up" in body, (status, body[:200])
    finally:
        exporter.stop()


# -- redis_exporter's JSON password file -----------------------------------------------------


def test_a_password_map_naming_one_target_twice_is_refused(
    start_redis: StartRedis, tmp_path: Path
) -> None:
    # Broke: docs/migrating.md: "A URI is matched on its scheme, host, port and database,
    # so cache-a:6379 and redis://cache-a:6379 are the same target". A map that gives that
    # one target two different passwords under two spellings,
    #   {"127.0.0.1:PORT/0": "<right>", "redis://127.0.0.1:PORT": "<wrong>"}
    # starts without a word: one password silently wins (here the wrong one: redis_up 0,
    # WRONGPASS), while the config file refuses the same thing ("duplicate target name").
    # Promise: nothing a redis_exporter user configured is silently ignored.
    server = start_redis(password=PASSWORD)
    passwords = tmp_path / "passwords.json"
    passwords.write_text(
        json.dumps(
            {
                f"127.0.0.1:{server.port}/0": PASSWORD,
                f"redis://127.0.0.1:{server.port}": "wrong-0ne",
            }
        )
    )
    code, output = start_or_exit(env={"REDIS_PASSWORD_FILE": str(passwords)})
    assert code is not None and code != 0, output  # refused, not a silent pick
    assert "twice" in output or "duplicate" in output, output
    assert PASSWORD not in output and "wrong-0ne" not in output
