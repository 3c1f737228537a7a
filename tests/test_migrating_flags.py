"""A redis_exporter or memcached_exporter user switches by changing the binary's name only."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import click
import pytest
from cachescope.cli import main, serve
from cachescope.clioptions import COMPAT_KEY
from cachescope.config.compat import COMPAT_FLAGS, CompatFlag
from cachescope.config.compatargs import Translation
from cachescope.config.flags import TargetFlags
from cachescope.config.yamlmarks import ConfigError
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import Exporter, MemcachedServer, StartExporter, StartRedis

PASSWORD = "m1grate-Pa55word-k4"  # distinctive, so a leak anywhere is found by substring
OTHER = "sec0nd-Pa55word-z8"
README = Path(__file__).resolve().parent.parent / "README.md"


def run_serve(*args: str, env: dict[str, str] | None = None) -> Result:
    """`cachescope serve ARGS` that is expected to stop at once (help, or a refusal)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:  # serve sets up logging on the runner's stream, which closes at the end
        return CliRunner().invoke(main, ["serve", *args], env=env)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def parse(*args: str) -> click.Context:
    """The serve command line as click reads it, without serving."""
    return serve.make_context("serve", list(args))


def assert_nowhere(exporter: Exporter, secret: str) -> None:
    pages = [exporter.get(path)[1] for path in ("/metrics", "/")]
    for text in [*pages, exporter.log()]:
        assert secret not in text


# -- live: the peers' variables and flags against real servers ---------------------------


def test_redis_exporter_variables_alone_reach_a_protected_redis(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis(password=PASSWORD)
    exporter = start_exporter(env={"REDIS_ADDR": server.uri, "REDIS_PASSWORD": PASSWORD})
    metrics = exporter.metrics()
    assert metrics.value("redis_up", instance=f"127.0.0.1:{server.port}") == 1
    assert metrics.get("redis_up", instance="localhost:6379") == []  # not the default target
    assert_nowhere(exporter, PASSWORD)


def test_memcached_exporter_address_flag_is_a_memcached_target(
    memcached_server: MemcachedServer, start_exporter: StartExporter
) -> None:
    exporter = start_exporter("--memcached.address", f"127.0.0.1:{memcached_server.port}")
    metrics = exporter.metrics()
    assert metrics.value("memcached_up", instance=f"127.0.0.1:{memcached_server.port}") == 1


def test_json_password_file_gives_each_redis_its_own_password(
    start_redis: StartRedis, start_exporter: StartExporter, tmp_path: Path
) -> None:
    first, second = start_redis(password=PASSWORD), start_redis(password=OTHER)
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({first.uri: PASSWORD, second.uri: OTHER}))
    exporter = start_exporter(env={"REDIS_PASSWORD_FILE": str(passwords)})
    metrics = exporter.metrics()
    for server in (first, second):
        assert metrics.value("redis_up", instance=f"127.0.0.1:{server.port}") == 1
    status, body = exporter.get(f"/scrape?target={second.uri}")
    assert status == 200 and "redis_up 1" in body  # redis_exporter's multi-target use
    assert_nowhere(exporter, PASSWORD)
    assert_nowhere(exporter, OTHER)


def test_single_dash_flags_as_go_writes_them(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis()
    exporter = start_exporter("-redis.addr", server.uri, "-web.telemetry-path=/redis/metrics")
    assert exporter.metrics().value("redis_up", instance=f"127.0.0.1:{server.port}") == 1
    assert exporter.metrics("/redis/metrics").value("redis_up") == 1  # telemetry path too


def test_password_flag_works_and_warns_without_the_password(
    start_redis: StartRedis, start_exporter: StartExporter
) -> None:
    server = start_redis(password=PASSWORD)
    exporter = start_exporter("--redis.addr", server.uri, "--redis.password", PASSWORD)
    assert exporter.metrics().value("redis_up") == 1
    assert "shows in the process list" in exporter.log()
    assert_nowhere(exporter, PASSWORD)


def test_redis_exporter_tls_client_flags_reach_a_redis_that_asks_for_a_certificate(
    start_redis: StartRedis, start_exporter: StartExporter, tls_certs: dict[str, str]
) -> None:
    server = start_redis(tls={**tls_certs, "auth_clients": "yes"})
    exporter = start_exporter(
        f"-redis.addr={server.uri}",
        f"-tls-ca-cert-file={tls_certs['ca']}",
        f"-tls-client-cert-file={tls_certs['client_cert']}",
        env={"REDIS_EXPORTER_TLS_CLIENT_KEY_FILE": tls_certs["client_key"]},
    )
    assert exporter.metrics().value("redis_up", instance=f"127.0.0.1:{server.port}") == 1


# -- the command line -------------------------------------------------------------------


def test_help_still_answers_to_h_and_shows_the_variables() -> None:
    for spelling in ("-h", "--help", "-help"):
        result = run_serve(spelling)
        assert result.exit_code == 0, result.output
        assert "REDIS_ADDR" in result.stdout and "CACHESCOPE_TARGETS" in result.stdout
    assert "open-file limit less 256" in run_serve("-h").stdout  # not a bare 0


def test_namespace_is_refused_with_the_reason() -> None:
    result = run_serve("--namespace=myapp")
    assert result.exit_code == 2
    assert "--namespace is not supported" in result.output
    assert "rename every series" in result.output
    env_result = run_serve(env={"REDIS_EXPORTER_NAMESPACE": "myapp"})
    assert env_result.exit_code == 2 and "REDIS_EXPORTER_NAMESPACE" in env_result.output
    assert parse("--namespace", "redis").params  # redis_exporter's default renames nothing


def test_unknown_flag_fails_clearly_in_either_spelling() -> None:
    for spelling in ("--no-such-flag", "-no-such-flag"):
        result = run_serve(spelling, "x")
        assert result.exit_code == 2
        assert "No such option '--no-such-flag'" in result.output


def test_a_refused_secret_flag_never_repeats_its_value() -> None:
    for args in (("--basic-auth-password", PASSWORD), (f"-basic-auth-hash-password={PASSWORD}",)):
        result = run_serve(*args)
        assert result.exit_code == 2 and "--web.config.file" in result.output
        assert PASSWORD not in result.output


def test_empty_peer_settings_are_their_off_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_EXPORTER_CHECK_KEYS", "")  # as Helm charts leave them
    ctx = parse("--check-single-keys=", "--script", "")
    assert len(_notes(ctx)) == 3


def test_memcached_tls_turns_the_address_into_a_tls_target() -> None:
    params = parse("--memcached.address", "127.0.0.1:11299", "--memcached.tls.enable").params
    assert params["target"] == ("memcacheds://127.0.0.1:11299",)
    result = run_serve("--memcached.tls.enable")
    assert result.exit_code == 2 and "needs --memcached.address" in result.output


def test_a_go_boolean_set_false_says_what_it_became() -> None:
    ctx = parse("-debug=false", "-skip-tls-verification=0")
    assert _notes(ctx) == [
        "--debug=false changes nothing",
        # said on the command line, so that no variable set true can override it
        "--skip-tls-verification=false is --no-tls.insecure-skip-verify",
    ]
    assert ctx.params["log_level"] == "info" and not ctx.params["tls_insecure_skip_verify"]


def test_a_missing_tls_file_names_the_option(tmp_path: Path) -> None:
    result = run_serve("-tls-ca-cert-file", str(tmp_path / "absent.crt"))
    assert result.exit_code == 2 and "--tls.ca-file: cannot read" in result.output


def test_log_level_takes_warn_in_any_case() -> None:
    for args in (("--log.level", "warn"), ("--log-level=WARN",), ("-log.level=warning",)):
        assert parse(*args).params["log_level"] == "warning"


def test_command_line_beats_the_peers_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_EXPORTER_LOG_FORMAT", "json")
    assert parse().params["log_format"] == "json"
    assert parse("--log.format", "logfmt").params["log_format"] == "logfmt"
    monkeypatch.setenv("CACHESCOPE_LOG_FORMAT", "logfmt")  # ours beats theirs
    assert parse().params["log_format"] == "logfmt"


def test_a_value_that_starts_with_a_dash_is_left_alone() -> None:
    params = parse("--redis.config-command", "-", "--redis.user", "-rename-me").params
    assert params["redis_config_command"] == "-"
    assert params["redis_user"] == "-rename-me"


def test_password_file_that_is_not_a_map_names_the_flag_not_the_content(tmp_path: Path) -> None:
    broken = tmp_path / "passwords.json"
    broken.write_text('{"redis://127.0.0.1:1": "' + PASSWORD)
    flags = TargetFlags(
        config_file=None, targets=(), user=None, password_file=str(broken), timeout="1s", allow=()
    )
    with pytest.raises(ConfigError) as caught:
        flags.load()
    assert "--redis.password-file" in str(caught.value) and PASSWORD not in str(caught.value)


# -- every row of the table ---------------------------------------------------------------

_SAMPLES = {
    "redis.addr": "redis://127.0.0.1:6390",
    "memcached.address": "127.0.0.1:11299",
    "web.listen-address": "127.0.0.1:9121",
    "web.telemetry-path": "/redis/metrics",
    "connection-timeout": "15s",
    "memcached.timeout": "1s",
    "log-level": "INFO",
    "log-format": "txt",
}
_NEEDS = {"memcached.tls.enable": ("--memcached.address", "127.0.0.1:11299")}
_OPTIONS = {name for param in serve.params for name in param.opts}


def _sample(flag: CompatFlag) -> str:
    return "true" if flag.boolean else _SAMPLES.get(flag.name, "sample-value")


def _ways(flag: CompatFlag) -> list[tuple[str, ...]]:
    """The command lines that say `flag` is on (or has its sample value)."""
    value, needs = _sample(flag), _NEEDS.get(flag.name, ())
    if flag.boolean:
        ways = [(f"--{flag.name}",), (f"-{flag.name}",), (f"--{flag.name}={value}",)]
    else:
        ways = [(f"--{flag.name}", value), (f"-{flag.name}={value}",)]
    return [(*needs, *way) for way in ways]


@pytest.mark.parametrize("flag", COMPAT_FLAGS, ids=lambda flag: flag.name)
def test_every_peer_flag_is_accepted_or_refused_with_its_message(
    flag: CompatFlag, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [f.env for f in COMPAT_FLAGS if f.env]:
        monkeypatch.delenv(key, raising=False)
    if flag.option and flag.option not in _OPTIONS:  # another part of issue #20 adds it
        translation = _translated(flag)
        assert flag.option in translation.args[0] and translation.notes
        return
    accepted = flag.option or _sample(flag) in flag.same
    for args in _ways(flag):
        if accepted:
            _assert_accepted(flag, parse(*args))
        else:
            _assert_refused(flag, args, f"--{flag.name}")
    if flag.env:
        monkeypatch.setenv(flag.env, _sample(flag))
        if accepted:
            _assert_accepted(flag, parse())
        else:
            _assert_refused(flag, (), flag.env)


def _translated(flag: CompatFlag) -> Translation:
    from cachescope.config.compatargs import translate

    return translate([f"--{flag.name}"], {}, [])


def _assert_accepted(flag: CompatFlag, ctx: click.Context) -> None:
    if flag.alias:  # the option itself got the value
        values = [v for p in serve.params if flag.option in p.opts for v in [ctx.params[p.name]]]
        assert values and _sample(flag).lower() in str(values[0]).lower(), values
    else:
        assert any(f"is {flag.note}" in note or flag.note in note for note in _notes(ctx))


def _assert_refused(flag: CompatFlag, args: tuple[str, ...], source: str) -> None:
    with pytest.raises(click.UsageError) as caught:
        parse(*args)
    assert source in caught.value.message and flag.note in caught.value.message


def _notes(ctx: click.Context) -> list[str]:
    translation: Translation = ctx.meta[COMPAT_KEY]
    return translation.notes


def test_refused_values_of_accepted_flags_say_why() -> None:
    for flag in COMPAT_FLAGS:
        refused = {"true", "false"} - set(flag.same) if flag.boolean and flag.same else set()
        for value in refused:
            with pytest.raises(click.UsageError) as caught:
                parse(f"--{flag.name}={value}")
            assert flag.note in caught.value.message


# -- the README --------------------------------------------------------------------------


def test_readme_flags_table_matches_serve_help() -> None:
    text = README.read_text()
    table = text.split("| flag | environment | default | meaning |", 1)[1].split("\n\n", 1)[0]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.count("|") > 2]
    documented = {name for cell in first_cells for name in re.findall(r"`(--[a-z.-]+)", cell)}
    primary = {param.opts[0] for param in serve.params if isinstance(param, click.Option)}
    every = {name for param in serve.params for name in [*param.opts, *param.secondary_opts]}
    assert primary - {"--help"} <= documented, primary - documented
    assert documented <= every, documented - every


def test_migrating_doc_has_a_row_for_every_flag_of_the_table() -> None:
    rows = {
        line.split("|")[1].strip(): line
        for line in (README.parent / "docs" / "migrating.md").read_text().splitlines()
        if line.startswith("| `--")
    }
    for flag in COMPAT_FLAGS:
        row = rows.get(f"`--{flag.name}`")
        assert row is not None, flag.name
        assert flag.env in row
        assert (flag.option or flag.note.split(":")[0]) in row


_SECRETISH = st.text(alphabet="abcXYZ019-_=:/.", min_size=1, max_size=20).map(lambda v: "Qz7" + v)
_REFUSED_WITH_VALUES = [f for f in COMPAT_FLAGS if not f.boolean and not f.option]


@settings(max_examples=200, deadline=None)
@given(flag=st.sampled_from(_REFUSED_WITH_VALUES), value=_SECRETISH, dashes=st.sampled_from("12"))
def test_a_refusal_never_repeats_the_value(flag: CompatFlag, value: str, dashes: str) -> None:
    token = "-" * int(dashes) + flag.name
    with pytest.raises(click.UsageError) as caught:
        parse(f"{token}={value}")
    assert value not in caught.value.message and flag.note in caught.value.message


@settings(max_examples=200, deadline=None)
@given(value=st.text(alphabet="-=abc.h ", min_size=1, max_size=12))
def test_a_value_after_a_value_flag_is_taken_as_written(value: str) -> None:
    assert parse("--redis.user", value, "-redis.config-command", value).params == {
        **parse().params,
        "redis_user": value,
        "redis_config_command": value,
    }
