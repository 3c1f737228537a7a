"""Break-it tests for issue #21 (ship it: image, probes with auth, web config, manifests).

Each test here failed against the exporter as it stood when it was written; each says why in
its `# Broke:` comment. Real processes on free loopback ports; one test builds the image
(with tests/podman.py, as tests/test_container.py does).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
from podman import IMAGE, Podman, base_image, build, cannot_run_containers, configure, locked
from servers import RedisServer, free_port
from test_deploy_kubernetes import WORKLOADS, workload
from test_healthcheck import Serve, healthcheck
from test_web_probes import credentials, start, tls, users
from test_web_reload import blind, make_pair, same, served_certificate

pytestmark = pytest.mark.live


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


# Broke: with `client_auth_type: RequireAndVerifyClientCert` the image's HEALTHCHECK
# (`cachescope healthcheck`) reports a healthy, serving exporter as unhealthy: it offers no
# client certificate, the handshake ends with "certificate required", and it exits 1. So
# Docker/Swarm (or an autoheal sidecar) marks or restarts a working container for good as
# soon as the user turns on client certificates. The server demanding a certificate is as
# much proof of life as a 200 (or the probe should say how to give it one); it is not 1.
def test_the_healthcheck_passes_when_the_exporter_requires_client_certificates(
    redis_server: RedisServer, tmp_path: Path, tls_certs: dict[str, str]
) -> None:
    web = tmp_path / "web.yml"
    web.write_text(
        tls(tls_certs)
        + "  client_auth_type: RequireAndVerifyClientCert\n"
        + f"  client_ca_file: {tls_certs['ca']}\n"
        + users()
    )
    port = free_port()
    serve = Serve(
        *("--web.listen-address", f"127.0.0.1:{port}", "--web.config.file", str(web)),
        *("--target", redis_server.uri),
        env={},
        cwd=tmp_path,
        port=port,
    )
    try:
        result = healthcheck("--pid", str(serve.proc.pid))
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        serve.stop()


# Broke: a web config reload that drops `tls_server_config` (an edit gone wrong, a
# ConfigMap merged without its TLS block) is applied without a word: the port silently
# turns to plain HTTP, so every basic-auth password Prometheus sends from then on crosses
# the network in clear, and the log only says "configuration reloaded". exporter-toolkit
# decides TLS at startup and never downgrades a TLS listener at runtime; a reload that
# would should be refused (400, the running TLS config kept), as other bad reloads are.
def test_a_reload_that_drops_tls_is_refused_and_the_port_keeps_speaking_tls(
    redis_server: RedisServer, tmp_path: Path, tls_certs: dict[str, str]
) -> None:
    context = ssl.create_default_context(cafile=tls_certs["ca"])
    exporter = start(
        tmp_path, tls(tls_certs) + users(), "--target", redis_server.uri, context=context
    )
    try:
        assert exporter.fetch("/-/healthy")[0] == 200
        (tmp_path / "web.yml").write_text(users())  # the TLS block is gone
        status, _, body = exporter.fetch("/-/reload", "POST", authorization=credentials())
        try:
            still_tls = exporter.fetch("/-/healthy")[0] == 200
        except (OSError, ssl.SSLError):
            still_tls = False
        assert still_tls, f"reload answered {status} {body!r} and the port now speaks plain HTTP"
        assert status == 400, body
    finally:
        exporter.stop()


# Broke: `--web.listen-address` given twice (node_exporter's exporter-toolkit flag is
# repeatable and serves every address, e.g. `:9100` and a second port for a sidecar) keeps
# only the last one, silently: the first address is never bound and nothing says so. A
# peer's habit the migration guide promises to honour or refuse, never to drop.
def test_a_repeated_listen_address_is_served_or_refused_never_dropped(tmp_path: Path) -> None:
    first, second = free_port(), free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cachescope", "serve", "--target", "redis://127.0.0.1:1"]
            + ["--web.listen-address", f"127.0.0.1:{first}"]
            + ["--web.listen-address", f"127.0.0.1:{second}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None and not listening(second):
            time.sleep(0.05)
        time.sleep(0.5)
        output = log.read_text()
        if proc.poll() is not None:  # refused: it must say why, and name the flag
            assert proc.returncode != 0 and "--web.listen-address" in output, output
        else:
            assert listening(first) and listening(second), (
                f"serving {second} only, {first} silently dropped:\n{output}"
            )
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(15)


def serve_with_web_config(tmp_path: Path, text: str) -> tuple[Serve, Path]:
    web = tmp_path / "web.yml"
    web.write_text(text)
    port = free_port()
    serve = Serve(
        *("--web.listen-address", f"127.0.0.1:{port}", "--web.config.file", str(web)),
        *("--target", "redis://127.0.0.1:1"),
        env={},
        cwd=tmp_path,
        port=port,
    )
    return serve, web


def tls_health(port: int) -> int:
    blind = ssl.create_default_context()
    blind.check_hostname, blind.verify_mode = False, ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=blind)
    try:
        conn.request("GET", "/-/healthy")
        return conn.getresponse().status
    finally:
        conn.close()


# Broke: the HEALTHCHECK reads the web config *file* again instead of probing what the
# exporter runs. A web config edit that the exporter refused (POST /-/reload answers 400
# and "the running one stays", as documented) makes `cachescope healthcheck` fail with
# "cannot tell where the exporter listens: web.yml:N: ...", exit 1, while the exporter
# serves on, unchanged. The documented resilience of a bad reload is undone by the
# container's own probe: the runtime marks it unhealthy (Swarm replaces it, and the new
# one then refuses to start).
def test_a_refused_web_config_edit_does_not_make_the_serving_exporter_unhealthy(
    tmp_path: Path, tls_certs: dict[str, str]
) -> None:
    serve, web = serve_with_web_config(tmp_path, tls(tls_certs) + users())
    try:
        assert healthcheck("--pid", str(serve.proc.pid)).returncode == 0
        web.write_text(tls(tls_certs) + "  client_allowed_sans: [prometheus]\n" + users())
        serve.proc.send_signal(signal.SIGHUP)  # refused: the running config stays
        time.sleep(1)
        assert serve.proc.poll() is None and tls_health(serve.port) == 200
        result = healthcheck("--pid", str(serve.proc.pid))
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        serve.stop()


# Broke: the same, for an edit not reloaded yet ("an edit of the web config file alone
# waits for a reload", docs/security.md): the TLS block removed on disk makes the
# healthcheck speak plain HTTP to the port that still speaks TLS, and exit 1.
def test_an_edit_waiting_for_its_reload_does_not_make_the_healthcheck_fail(
    tmp_path: Path, tls_certs: dict[str, str]
) -> None:
    serve, web = serve_with_web_config(tmp_path, tls(tls_certs) + users())
    try:
        web.write_text(users())  # TLS off on disk; the exporter has not reloaded
        time.sleep(6)  # past the 5 s certificate watch: an edit alone is not applied
        assert tls_health(serve.port) == 200
        result = healthcheck("--pid", str(serve.proc.pid))
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        serve.stop()


def start_raw(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    """`cachescope serve ARGS` in tmp_path, its output in serve.log."""
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cachescope", "serve", "--target", "redis://127.0.0.1:1", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    return proc, log


def wait_up_or_gone(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None and not listening(port):
        time.sleep(0.05)
    time.sleep(0.3)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(15)


# Broke: `cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]` with `max_version: TLS12` is
# accepted and the exporter serves it (curl and openssl connect), but the image's
# HEALTHCHECK cannot: `cachescope healthcheck` uses Python's default client ciphers, which
# leave out every SHA-1 suite, so it fails the handshake and reports the serving exporter
# unhealthy. A probe that does not verify the certificate has no reason to be stricter
# about ciphers than the server it probes.
def test_the_healthcheck_speaks_every_cipher_suite_the_web_config_accepts(
    tmp_path: Path, tls_certs: dict[str, str]
) -> None:
    port = free_port()
    web = tmp_path / "web.yml"
    web.write_text(
        tls(tls_certs)
        + "  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n"
    )
    serve = Serve(
        *("--web.listen-address", f"127.0.0.1:{port}", "--web.config.file", str(web)),
        *("--target", "redis://127.0.0.1:1"),
        env={},
        cwd=tmp_path,
        port=port,
    )
    try:
        client = ssl.create_default_context(cafile=tls_certs["ca"])
        client.set_ciphers("ECDHE-RSA-AES128-SHA")
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            client.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
        ):
            assert conn.cipher()[0] == "ECDHE-RSA-AES128-SHA"  # the exporter serves it
        result = healthcheck("--pid", str(serve.proc.pid))
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        serve.stop()


# Broke: `max_version: TLS11` (or TLS10) is accepted at startup with no word, and then every
# handshake fails with "protocol version": the OpenSSL build refuses TLS 1.0 and 1.1, so the
# exporter listens on a port no client (curl, openssl at SECLEVEL=0, Prometheus) can use.
# exporter-toolkit honours these values; a value cachescope cannot honour must be refused
# at startup with file, line and key, as docs/security.md promises for the web config.
def test_a_max_version_below_tls12_is_honoured_or_refused_with_file_line_and_key(
    tmp_path: Path, tls_certs: dict[str, str]
) -> None:
    port = free_port()
    web = tmp_path / "web.yml"
    web.write_text(tls(tls_certs) + "  max_version: TLS11\n")
    proc, log = start_raw(
        tmp_path, "--web.listen-address", f"127.0.0.1:{port}", "--web.config.file", str(web)
    )
    try:
        wait_up_or_gone(proc, port)
        if proc.poll() is not None:
            output = log.read_text()
            assert proc.returncode != 0 and f"{web}:4: tls_server_config.max_version" in output, (
                output
            )
            return
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
        client.set_ciphers("DEFAULT:@SECLEVEL=0")
        client.minimum_version = ssl.TLSVersion.TLSv1
        client.maximum_version = ssl.TLSVersion.TLSv1_1
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                client.wrap_socket(raw) as conn,
            ):
                version = conn.version()
        except ssl.SSLError as exc:
            version = f"no handshake at all: {exc}"
        assert version == "TLSv1.1", f"started, but {version}\n{log.read_text()}"
    finally:
        stop(proc)


_FIND_PIP = """
import glob, json, os, shutil, subprocess
found = [c for c in ("pip", "pip3", "pip3.11") if shutil.which(c)]
for python in ("/usr/bin/python3", "/usr/local/bin/python3"):
    if os.path.exists(python):
        run = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True)
        if run.returncode == 0:
            found.append(python + " -m pip")
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev")]
    for name in dirs + files:
        if (name == "pip" and root.endswith("site-packages")) or (
            name.startswith("pip-") and name.endswith(".whl")
        ):
            found.append(os.path.join(root, name))
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def podman() -> Podman:
    """The image as tests/test_container.py builds it (layers cached after its first build)."""
    assert shutil.which("podman"), "podman is missing: scripts/setup.sh installs it"
    with locked():
        client = configure()
        base_image(client)
        reason = cannot_run_containers(client)
        if reason:
            pytest.skip(reason)
        build(client)
    return client


# Broke: "no pip inside" holds only for the venv's own interpreter (the check in
# test_container.py asks /opt/cachescope/bin/python). The runtime stage is the base image
# untouched, and the base's pip is still there: in the test image pip's wheel sits in
# /usr/share/python-wheels (`python /usr/share/python-wheels/pip-*.whl/pip install ...`
# runs, and `python3 -m ensurepip` installs it), and with the Dockerfile's default
# BASE_IMAGE (python:3.11-slim) /usr/local/bin/pip and site-packages/pip ship as-is.
@pytest.mark.timeout(900)
def test_the_image_holds_no_pip_anywhere_not_even_the_base_images(podman: Podman) -> None:
    result = podman.run("run", "--rm", "--network", "none", "--user", "0", "--entrypoint",
                        "python", IMAGE, "-c", _FIND_PIP)  # fmt: skip
    found = json.loads(result.stdout)
    assert found == [], found


# Broke: the kube-prometheus-stack component tells users to combine it with
# `resources: [... deploy/kubernetes/sharded]`, a directory that does not exist (the sharded
# variant is deploy/overlays/sharded, or the component deploy/kubernetes/components/sharded,
# which cannot be a resource). Every deploy/ path the manifests' comments and the README
# name must exist.
def test_every_deploy_path_the_manifests_and_readme_name_exists() -> None:
    root = Path(__file__).resolve().parent.parent
    texts = [root / "README.md", *sorted((root / "deploy").rglob("*.yaml"))]
    missing = []
    for path in texts:
        for match in re.finditer(r"deploy/[A-Za-z0-9_./-]*[A-Za-z0-9_]", path.read_text()):
            if not (root / match.group(0)).exists():
                missing.append(f"{path.relative_to(root)}: {match.group(0)}")
    assert missing == []


# Broke: `--web.listen-address :PORT` promises IPv4 and IPv6 ("IPv4 alone where the machine
# has no IPv6"). When the machine has IPv6 but another process holds [::1]:PORT, the
# exporter does not fail with "address already in use" (as Go's `:PORT` does): it falls back
# to 0.0.0.0:PORT and logs a plain info line, so IPv6 clients of that port (Prometheus in a
# dual-stack or IPv6-first cluster) reach the other process, silently.
def test_a_wildcard_port_taken_on_ipv6_is_refused_not_narrowed_to_ipv4(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    with socket.socket(socket.AF_INET6) as squatter:
        squatter.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        squatter.bind(("::1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        proc, log = start_raw(tmp_path, "--web.listen-address", f":{port}")
        try:
            wait_up_or_gone(proc, port)
            output = log.read_text()
            if proc.poll() is None:
                assert "level=warn" in output and "IPv6" in output, (
                    f"serves IPv4 only, [::1]:{port} belongs to another process:\n{output}"
                )
            else:
                assert proc.returncode != 0 and "already in use" in output, output
        finally:
            stop(proc)


# Broke: (minor) a certificate rewritten in place with its size and mtime kept is never
# served. Two RSA-2048 certificates from one CA are usually the same size, and `cp -p`,
# `rsync --inplace -t`, or an archive with normalised mtimes keep the timestamp; the watch
# (size, mtime and inode, every 5 s) sees nothing, although the change time (st_ctime) or
# the content say the file changed. The old certificate is served until it expires.
def test_a_certificate_rewritten_in_place_with_its_mtime_kept_is_still_picked_up(
    tmp_path: Path,
) -> None:
    (old_cert, old_key), (new_cert, new_key) = (
        make_pair(tmp_path, "old"),
        make_pair(tmp_path, "new"),
    )
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes(old_cert)
    key.write_bytes(old_key)
    stamp = (1_700_000_000, 1_700_000_000)
    os.utime(cert, stamp)
    os.utime(key, stamp)
    text = f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
    exporter = start(tmp_path, text, "--target", "redis://127.0.0.1:1", context=blind())
    try:
        assert same(served_certificate(exporter.port), old_cert)
        with open(cert, "r+b") as out:  # in place: same inode, same size
            out.write(new_cert)
        with open(key, "r+b") as out:
            out.write(new_key)
        os.utime(cert, stamp)
        os.utime(key, stamp)
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline and not same(served_certificate(exporter.port), new_cert):
            time.sleep(0.5)
        assert same(served_certificate(exporter.port), new_cert), exporter.log()
    finally:
        exporter.stop()


# Broke: the Secret holding the Redis password is mounted with `defaultMode: 0400` into a
# pod that runs as uid 10001 with no `fsGroup`. The kubelet writes Secret volume files owned
# by root:root (kubernetes/kubernetes#57923, #81089), so mode 0400 leaves them readable by
# root alone: the exporter stops at startup with "defaults.password_file: cannot read
# password file /etc/cachescope-secrets/redis-password: Permission denied" (what uid 10001
# gets from a root-owned 0400 file) and the Deployment, and every shard, crash-loops.
# `fsGroup: 10001` (the kubelet then gives the group read) or a mode readable by the pod's
# uid is needed.
@pytest.mark.parametrize("kind", WORKLOADS)
def test_the_password_secret_is_readable_by_the_pods_non_root_user(kind: str) -> None:
    pod = workload(kind)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    uid = (
        container.get("securityContext", {}).get("runAsUser") or pod["securityContext"]["runAsUser"]
    )
    fs_group = pod["securityContext"].get("fsGroup")
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        secret = volumes[mount["name"]].get("secret")
        if secret is None:
            continue
        mode = secret.get("defaultMode", 0o644)
        readable = uid == 0 or mode & 0o004 or (fs_group is not None and mode & 0o440)
        assert readable, (
            f"{kind}: Secret {secret['secretName']} files are root:root {mode:04o}, "
            f"the container runs as uid {uid}, fsGroup {fs_group}"
        )


# Broke: (minor) a bad `cachescope healthcheck --timeout` is reported as "cannot tell where
# the exporter listens: must be a duration between 1ms and 10m, not 0": it blames the
# exporter's listen address and does not name the flag at fault, so whoever wrote the
# HEALTHCHECK or exec probe looks in the wrong place. Bad input names its field.
@pytest.mark.parametrize("value", ["0", "abc", "100000h"])
def test_a_bad_healthcheck_timeout_names_the_flag_not_the_listen_address(value: str) -> None:
    result = healthcheck("--pid", str(os.getpid()), "--timeout", value)
    message = result.stdout + result.stderr
    assert result.returncode != 0
    assert "--timeout" in message and "listens" not in message, message


# Broke: "the web config is exporter-toolkit's format, so a node_exporter file works", but
# exporter-toolkit resolves relative `cert_file`, `key_file` and `client_ca_file` against the
# web config file's directory (TLSConfig.SetDirectory(filepath.Dir(configPath))), and
# cachescope against its working directory. A node_exporter web config such as
# /etc/node_exporter/web.yml with `cert_file: node.crt` fails to start here ("cannot read
# node.crt"), or, worse, loads whatever file of that name the working directory holds.
def test_relative_tls_paths_are_resolved_against_the_web_config_directory(
    tmp_path: Path, tls_certs: dict[str, str]
) -> None:
    config_dir, elsewhere = tmp_path / "etc", tmp_path / "run"
    config_dir.mkdir()
    elsewhere.mkdir()
    shutil.copy(tls_certs["cert"], config_dir / "node.crt")
    shutil.copy(tls_certs["key"], config_dir / "node.key")
    web = config_dir / "web.yml"
    web.write_text("tls_server_config:\n  cert_file: node.crt\n  key_file: node.key\n")
    port = free_port()
    proc, log = start_raw(
        elsewhere, "--web.listen-address", f"127.0.0.1:{port}", "--web.config.file", str(web)
    )
    try:
        wait_up_or_gone(proc, port)
        assert proc.poll() is None, log.read_text()
        assert tls_health(port) == 200
    finally:
        stop(proc)


# Broke: (minor) `Strict-Transport-Security:` with no value is refused ("must be a header
# value, not empty"), but the same header written `Strict-Transport-Security: ""` is
# accepted, and an empty `Strict-Transport-Security:` header is then sent on every response
# (RFC 6797 requires max-age: browsers ignore it). The user believes HSTS is on; it is not.
def test_an_empty_header_value_is_refused_however_it_is_spelled(tmp_path: Path) -> None:
    web = tmp_path / "web.yml"
    web.write_text('http_server_config:\n  headers:\n    Strict-Transport-Security: ""\n')
    port = free_port()
    proc, log = start_raw(
        tmp_path, "--web.listen-address", f"127.0.0.1:{port}", "--web.config.file", str(web)
    )
    try:
        wait_up_or_gone(proc, port)
        output = log.read_text()
        assert proc.poll() is not None, f"started with an empty HSTS header:\n{output}"
        assert f"{web}:3: http_server_config.headers.Strict-Transport-Security" in output, output
    finally:
        stop(proc)
