"""The image built from the Dockerfile and run next to a real Redis and Memcached.

Podman builds it on a debootstrapped Debian (tests/podman.py), so no registry is needed; the
containers share the host's network and listen on free loopback ports. Skipped only when the
machine cannot start a container at all, saying why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import bcrypt
import pytest
from podman import IMAGE, Podman, base_image, build, cannot_run_containers, configure, locked
from servers import Exposition, MemcachedServer, RedisServer, free_port, wait_for

pytestmark = [pytest.mark.live, pytest.mark.timeout(900)]

UID = 10001  # the Dockerfile's USER


@pytest.fixture(scope="module")
def podman(request: pytest.FixtureRequest) -> Podman:
    """The image, built once for the module; its size and build time are printed."""
    assert shutil.which("podman"), "podman is missing: scripts/setup.sh installs it"
    started = time.monotonic()
    with locked():
        client = configure()
        base_image(client)
        reason = cannot_run_containers(client)
        if reason:
            pytest.skip(reason)
        build(client)
    size = int(client.run("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    took = time.monotonic() - started
    note = f"\ncontainer image {IMAGE}: {size / 1e6:.1f} MB, built (or reused) in {took:.0f}s"
    if reporter is not None:
        reporter.write_line(note)
    return client


Run = Callable[..., str]


@pytest.fixture
def run_container(podman: Podman) -> Iterator[Run]:
    """Factory: run_container(*podman_run_options, image_args=[...]) -> container id."""
    started: list[str] = []

    def run(*options: str, args: tuple[str, ...] = ()) -> str:
        # The timer podman would add for the HEALTHCHECK needs systemd: the test runs it.
        command = ["run", "--detach", "--health-interval", "disable", *options, IMAGE, *args]
        container = podman.run(*command).stdout.strip()
        started.append(container)
        return container

    yield run
    for container in started:
        podman.run("rm", "--force", "--time", "0", container, check=False)


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


def wait_listening(podman: Podman, container: str, port: int, scheme: str = "http") -> None:
    def answers() -> bool:
        if http_get(f"{scheme}://127.0.0.1:{port}/-/healthy")[0] or scheme == "https":
            return podman.run("exec", container, "true", check=False).returncode == 0
        return False

    wait_for(answers, 30, f"container on {port}: {podman.run('logs', container).stdout}")


def healthcheck(podman: Podman, container: str) -> subprocess.CompletedProcess[str]:
    return podman.run("healthcheck", "run", container, check=False, timeout=60)


@pytest.fixture(scope="module")
def caches() -> Iterator[tuple[RedisServer, MemcachedServer]]:
    redis, memcached = RedisServer(), MemcachedServer()
    yield redis, memcached
    redis.stop()
    memcached.stop()


@pytest.fixture
def exporter(run_container: Run, podman: Podman, caches: tuple[RedisServer, MemcachedServer]):  # type: ignore[no-untyped-def]
    """The image serving both caches, read-only, on a non-default loopback port."""
    redis, memcached = caches
    port = free_port()
    container = run_container(
        "--network", "host", "--read-only",
        args=("--web.listen-address", f"127.0.0.1:{port}", "--target", redis.uri,
              "--target", memcached.uri),
    )  # fmt: skip
    wait_listening(podman, container, port)
    return container, port


def test_the_image_serves_redis_up_and_memcached_up(exporter, caches) -> None:  # type: ignore[no-untyped-def]
    container, port = exporter
    redis, memcached = caches
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    metrics = Exposition(body)
    assert metrics.value("redis_up", instance=f"127.0.0.1:{redis.port}") == 1
    assert metrics.value("memcached_up", instance=f"127.0.0.1:{memcached.port}") == 1


def test_the_exporter_runs_as_the_non_root_uid(exporter, podman: Podman) -> None:  # type: ignore[no-untyped-def]
    container, _ = exporter
    status = podman.run("exec", container, "cat", "/proc/1/status").stdout
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert uids == [str(UID)] * 4
    assert "cachescope" in podman.run("exec", container, "cat", "/proc/1/cmdline").stdout


def test_the_root_filesystem_is_read_only_and_the_exporter_does_not_mind(exporter, podman) -> None:  # type: ignore[no-untyped-def]
    container, port = exporter
    inspect = json.loads(podman.run("inspect", container).stdout)[0]
    assert inspect["HostConfig"]["ReadonlyRootfs"] is True
    write = podman.run("exec", container, "python", "-c", "open('/opt/x', 'w')", check=False)
    assert write.returncode != 0 and "Read-only file system" in write.stderr
    assert http_get(f"http://127.0.0.1:{port}/metrics")[0] == 200


def test_the_healthcheck_passes_on_a_non_default_listen_address(exporter, podman) -> None:  # type: ignore[no-untyped-def]
    container, port = exporter
    assert port != 9808
    result = healthcheck(podman, container)
    assert result.returncode == 0, result.stdout + result.stderr
    # and it does fail when the exporter does not answer: the check can fail.
    podman.run("pause", container)
    try:
        assert healthcheck(podman, container).returncode != 0
    finally:
        podman.run("unpause", container)


def test_the_healthcheck_passes_with_the_images_own_command_in_a_private_network(
    run_container: Run, podman: Podman
) -> None:
    # --network none: its own namespace with only loopback, so the default :9808 is free.
    container = run_container("--network", "none", "--read-only")
    wait_for(lambda: healthcheck(podman, container).returncode == 0, 30, "healthy on :9808")


def test_the_healthcheck_passes_with_basic_auth_and_tls_on(
    run_container: Run, podman: Podman, tls_certs: dict[str, str], tmp_path: Path
) -> None:
    web = tmp_path / "web"
    web.mkdir()
    for name in ("cert", "key"):
        shutil.copy(tls_certs[name], web / f"tls.{name}")
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()
    (web / "web.yml").write_text(
        "tls_server_config:\n  cert_file: /etc/cachescope/tls.cert\n"
        "  key_file: /etc/cachescope/tls.key\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n"
    )
    for path in [web, *web.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the image's uid
    port = free_port()
    container = run_container(
        "--network", "host", "--read-only", "--volume", f"{web}:/etc/cachescope:ro",
        args=("--web.listen-address", f"127.0.0.1:{port}",
              "--web.config.file", "/etc/cachescope/web.yml"),
    )  # fmt: skip
    wait_for(lambda: healthcheck(podman, container).returncode == 0, 30, "healthy with auth")
    # Auth is really on: the metrics refuse a client without the password.
    ask = "import ssl,urllib.request as u;c=ssl._create_unverified_context();"
    ask += f"u.urlopen('https://127.0.0.1:{port}/metrics',context=c)"
    refused = podman.run("exec", container, "python", "-c", ask, check=False)
    assert "401" in refused.stderr


def test_sigterm_stops_it_within_the_shutdown_timeout(run_container: Run, podman: Podman) -> None:
    port = free_port()
    container = run_container(
        "--network", "host",
        args=("--web.listen-address", f"127.0.0.1:{port}", "--web.shutdown-timeout", "20s"),
    )  # fmt: skip
    wait_listening(podman, container, port)
    started = time.monotonic()
    podman.run("kill", "--signal", "TERM", container)
    podman.run("wait", container, timeout=60)
    took = time.monotonic() - started
    state = json.loads(podman.run("inspect", container).stdout)[0]["State"]
    assert state["ExitCode"] == 0, podman.run("logs", container).stderr
    assert took < 20, f"took {took:.1f}s"  # idle: it should take well under a second
    assert "SIGTERM: stopping" in podman.run("logs", container).stderr


# Run inside the image as root, so that every directory can be read.
_INSPECT = """
import importlib.util, json, os, shutil, subprocess
compilers = [c for c in ("gcc", "cc", "c++", "clang", "make", "ld") if shutil.which(c)]
test_deps = [m for m in ("pytest", "hypothesis", "mypy", "ruff", "redis", "pymemcache",
                         "jsonschema", "pip", "setuptools", "mcp", "uvicorn", "starlette")
             if importlib.util.find_spec(m)]
found = [p for p in ("/src", "/wheels", "/exporter", "/tests") if os.path.exists(p)]
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev")]
    for name in dirs + files:
        path = os.path.join(root, name)
        if name in ("pyproject.toml", "conftest.py", ".git") or path.endswith("/.cache/pip"):
            found.append(path)
        # The base image's pip too: a command, a package in any site-packages, a wheel.
        if (name == "pip" and root.endswith(("site-packages", "dist-packages"))) or (
            name.startswith("pip-") and name.endswith(".whl")
        ):
            found.append(path)
found += [c for c in ("pip", "pip3", "pip3.11") if shutil.which(c)]
found += [p + " -m pip" for p in ("/usr/bin/python3", "/usr/local/bin/python3")
          if os.path.exists(p) and subprocess.run([p, "-m", "pip", "--version"],
                                                  capture_output=True).returncode == 0]
print(json.dumps({"compilers": compilers, "test_deps": test_deps, "found": found}))
"""


def test_the_image_holds_no_compiler_pip_cache_sources_or_test_dependencies(
    podman: Podman,
) -> None:
    result = podman.run("run", "--rm", "--network", "none", "--user", "0", "--entrypoint",
                        "python", IMAGE, "-c", _INSPECT)  # fmt: skip
    report = json.loads(result.stdout)
    assert report == {"compilers": [], "test_deps": [], "found": []}


def test_mcp_in_the_image_says_which_extra_it_needs(podman: Podman) -> None:
    # The image carries the exporter only: `cachescope mcp` needs `cachescope[mcp]`.
    result = podman.run(
        "run", "--rm", "--network", "none", "--entrypoint", "cachescope", IMAGE, "mcp", check=False
    )  # fmt: skip
    assert result.returncode == 1
    assert "pip install 'cachescope[mcp]'" in result.stderr
    assert "Traceback" not in result.stderr
