"""Files named by a config that are not regular files: a located error at load, never a hang."""

from __future__ import annotations

import dataclasses
import os
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cachescope import transport
from cachescope.config.loader import load_config
from cachescope.config.yamlmarks import ConfigError
from cachescope.rules import thresholds
from cachescope.web.webconfig import load_web_config
from servers import free_port
from test_config_hostile import check

# A hung open() or a directory mistaken for a file must fail these, not block the suite.
_RUN_TIMEOUT = 30
TARGET = "targets:\n  - uri: redis://127.0.0.1:1\n"
TLS_TARGET = "targets:\n  - uri: rediss://127.0.0.1:1\n    tls:\n"


def not_files(tmp_path: Path) -> dict[str, str]:
    """Paths that exist but are no regular file: a directory, a FIFO, an endless device."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    directory = tmp_path / "secrets"
    directory.mkdir()
    return {"directory": str(directory), "fifo": str(fifo), "zero": "/dev/zero"}


def password_file_places(path: str) -> list[tuple[str, int, str]]:
    """(config, line, field) for each place a password_file may be given."""
    return [
        (f"{TARGET}    password_file: {path}\n", 3, "targets[0].password_file"),
        (f"defaults:\n  password_file: {path}\n", 2, "defaults.password_file"),
        (
            "scrape:\n  allow:\n    - pattern: 'redis://10.0.0.0/8:*'\n"
            f"      password_file: {path}\n",
            4,
            "scrape.allow[0].password_file",
        ),
        (
            f"{TARGET}    discover:\n      kind: cluster\n      nodes:\n"
            f"        password_file: {path}\n",
            6,
            "targets[0].discover.nodes.password_file",
        ),
    ]


@pytest.mark.parametrize("place", range(4))
def test_a_directory_as_password_file_is_a_located_error(tmp_path: Path, place: int) -> None:
    directory = not_files(tmp_path)["directory"]
    text, line, field = password_file_places(directory)[place]
    config = tmp_path / "cachescope.yml"
    config.write_text(text)
    status, output = check(config)
    assert status == 1, output
    assert f"{config}:{line}: {field}:" in output, output
    assert "not a regular file" in output and "Traceback" not in output


def serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`cachescope serve ARGS` that must stop by itself; a hang fails the test."""
    command = [sys.executable, "-m", "cachescope", "serve"]
    command += ["--web.listen-address", f"127.0.0.1:{free_port()}", *args]
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=_RUN_TIMEOUT, cwd=tmp_path
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve {args} still running after {_RUN_TIMEOUT}s")


def test_serve_with_a_directory_as_password_file_names_the_field_not_the_listener(
    tmp_path: Path,
) -> None:
    directory = not_files(tmp_path)["directory"]
    config = tmp_path / "cachescope.yml"
    config.write_text(f"{TARGET}    password_file: {directory}\n")
    result = serve(tmp_path, "--config.file", str(config))
    assert result.returncode != 0
    assert f"{config}:3: targets[0].password_file:" in result.stderr, result.stderr
    assert "not a regular file" in result.stderr
    assert "cannot listen" not in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate and its key."""
    workdir = tmp_path_factory.mktemp("tls")
    key, cert = workdir / "tls.key", workdir / "tls.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key)]
        + ["-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return str(cert), str(key)


def web_config(cert: str, key: str, ca: str) -> str:
    return (
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
        f"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {ca}\n"
    )


@pytest.mark.parametrize("kind", ["fifo", "directory", "zero"])
@pytest.mark.parametrize(
    ("field", "line"), [("cert_file", 2), ("key_file", 3), ("client_ca_file", 5)]
)
def test_serve_refuses_a_web_tls_file_that_is_not_a_regular_file_at_once(
    tmp_path: Path, key_pair: tuple[str, str], kind: str, field: str, line: int
) -> None:
    cert, key = key_pair
    files = {"cert_file": cert, "key_file": key, "client_ca_file": cert}
    files[field] = not_files(tmp_path)[kind]
    web = tmp_path / "web.yml"
    web.write_text(web_config(files["cert_file"], files["key_file"], files["client_ca_file"]))
    result = serve(tmp_path, "--target", "redis://127.0.0.1:1", "--web.config.file", str(web))
    assert result.returncode != 0
    assert f"{web}:{line}: tls_server_config.{field}:" in result.stderr, result.stderr
    assert "not a regular file" in result.stderr and "Traceback" not in result.stderr


def test_a_web_config_with_good_tls_files_still_loads(
    tmp_path: Path, key_pair: tuple[str, str]
) -> None:
    cert, key = key_pair
    web = tmp_path / "web.yml"
    web.write_text(web_config(cert, key, cert))
    assert load_web_config(str(web)).tls is not None


@pytest.mark.parametrize("kind", ["fifo", "directory", "zero"])
@pytest.mark.parametrize(("field", "line"), [("ca_file", 4), ("cert_file", 4), ("key_file", 4)])
def test_a_target_tls_file_that_is_not_a_regular_file_is_named_as_such(
    tmp_path: Path, kind: str, field: str, line: int
) -> None:
    config = tmp_path / "cachescope.yml"
    config.write_text(f"{TLS_TARGET}      {field}: {not_files(tmp_path)[kind]}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(str(config))
    assert (raised.value.source, raised.value.line) == (str(config), line)
    assert raised.value.field == f"targets[0].tls.{field}"
    assert "not a regular file" in raised.value.message
    assert "does not exist" not in raised.value.message


def test_a_missing_target_tls_file_is_still_reported_as_missing(tmp_path: Path) -> None:
    config = tmp_path / "cachescope.yml"
    config.write_text(f"{TLS_TARGET}      ca_file: {tmp_path / 'nope.pem'}\n")
    with pytest.raises(ConfigError, match="No such file"):
        load_config(str(config))


@pytest.mark.parametrize("kind", ["fifo", "directory", "zero"])
def test_every_yaml_file_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    path = not_files(tmp_path)[kind]
    for load in (load_config, load_web_config, thresholds.read):
        with pytest.raises(ConfigError, match="not a regular file") as raised:
            load(path)
        assert raised.value.source == path


@pytest.mark.parametrize("field", ["ca_file", "cert_file"])
def test_a_target_tls_file_swapped_for_a_fifo_after_load_fails_the_connect_not_hangs(
    tmp_path: Path, key_pair: tuple[str, str], field: str
) -> None:
    cert, key = key_pair
    config = tmp_path / "cachescope.yml"
    config.write_text(f"{TLS_TARGET}      ca_file: {cert}\n      cert_file: {cert}\n")
    config.write_text(config.read_text() + f"      key_file: {key}\n")
    target = load_config(str(config)).targets[0]
    swapped = dataclasses.replace(target.credentials.tls, **{field: not_files(tmp_path)["fifo"]})
    target = dataclasses.replace(
        target, credentials=dataclasses.replace(target.credentials, tls=swapped)
    )
    outcome: list[BaseException | None] = []

    def build() -> None:
        try:
            transport.tls_context(target)
            outcome.append(None)
        except BaseException as exc:  # what the scrape would get
            outcome.append(exc)

    thread = threading.Thread(target=build, daemon=True)  # a hang must not block the suite
    thread.start()
    thread.join(_RUN_TIMEOUT)
    assert outcome, "building the TLS context blocked on a FIFO"
    assert isinstance(outcome[0], ssl.SSLError) and "not a regular file" in str(outcome[0])
