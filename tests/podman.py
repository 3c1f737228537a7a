"""Podman with all its state in one directory: builds and runs the image without a registry.

The base image is a Debian rootfs made by debootstrap and imported, so no registry is asked;
the rootfs tarball and podman's storage are kept in .cache/container (ignored by git and by
.dockerignore), so a second run reuses them. Nothing outside that directory is configured:
CONTAINERS_CONF and CONTAINERS_STORAGE_CONF point podman at files written there.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import resource
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from servers import ROOT

STATE = ROOT / ".cache" / "container"
BASE = "localhost/cachescope-base:bookworm"
IMAGE = "localhost/cachescope:test"
# Python 3.11 as in the official slim image the Dockerfile defaults to; python-is-python3
# because the Dockerfile says `python`.
_PACKAGES = "python3,python3-venv,python-is-python3"
# Docs, manuals, locales and apt's lists are no use in an image: smaller and faster to import.
_TRIM = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/locale",
    "usr/share/info",
    "var/lib/apt/lists",
)
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


@dataclasses.dataclass(frozen=True, slots=True)
class Podman:
    """Runs podman against the state directory."""

    state: Path

    @property
    def env(self) -> dict[str, str]:
        return dict(
            os.environ,
            CONTAINERS_CONF=str(self.state / "containers.conf"),
            CONTAINERS_STORAGE_CONF=str(self.state / "storage.conf"),
        )

    def run(
        self, *args: str, timeout: float = 120, check: bool = True, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`podman ARGS`; raise with its output if it fails and `check` is set."""
        result = subprocess.run(
            ["podman", *args],
            env=self.env,
            capture_output=True,
            timeout=timeout,
            input=stdin.decode() if stdin is not None else None,
            text=True,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {result.stdout}{result.stderr}")
        return result


def configure(state: Path = STATE) -> Podman:
    """Write the containers.conf and storage.conf this machine needs, under `state`."""
    state.mkdir(parents=True, exist_ok=True)
    (state / "tmp").mkdir(exist_ok=True)
    # runc's setrlimit fails on limits above the host's hard ones (podman's nproc default is).
    nofile = min(_hard(resource.RLIMIT_NOFILE), 65536)
    nproc = min(_hard(resource.RLIMIT_NPROC), 4096)
    (state / "containers.conf").write_text(
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'  # no systemd here
        'events_logger = "file"\n'
        f'events_logfile_path = "{state / "events.log"}"\n'
        f'tmp_dir = "{state / "tmp"}"\n'
    )
    (state / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{state / "storage"}"\n'
        f'runroot = "{state / "run"}"\n'
    )
    # pip in the build's RUN steps trusts the host's CA bundle, mounted read-only, not baked in.
    (state / "pip.conf").write_text("[global]\ncert = /etc/ssl/certs/host-ca.crt\n")
    return Podman(state)


def _hard(limit: int) -> int:
    hard = resource.getrlimit(limit)[1]
    return 1 << 20 if hard == resource.RLIM_INFINITY else hard


@contextmanager
def locked(state: Path = STATE) -> Iterator[None]:
    """One test run at a time prepares the state directory (another worktree has its own)."""
    state.mkdir(parents=True, exist_ok=True)
    with open(state / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def base_image(podman: Podman) -> None:
    """Import the debootstrapped Debian as BASE unless it is there already."""
    if podman.run("image", "exists", BASE, check=False).returncode == 0:
        return
    tarball = podman.state / "bookworm-rootfs.tar"
    if not tarball.exists():
        _debootstrap(podman.state, tarball)
    podman.run("import", str(tarball), BASE, timeout=300)


def _debootstrap(state: Path, tarball: Path) -> None:
    rootfs = state / "rootfs.tmp"
    shutil.rmtree(rootfs, ignore_errors=True)
    command = ["debootstrap", "--variant=minbase", f"--include={_PACKAGES}", "bookworm"]
    result = subprocess.run(
        [*command, str(rootfs), "http://deb.debian.org/debian"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for path in _TRIM:
        shutil.rmtree(rootfs / path, ignore_errors=True)
    subprocess.run(["tar", "-C", str(rootfs), "-cf", f"{tarball}.tmp", "."], check=True)
    os.replace(f"{tarball}.tmp", tarball)
    shutil.rmtree(rootfs)


def cannot_run_containers(podman: Podman) -> str | None:
    """Why no container can start on this machine (no namespaces, no runtime), or None."""
    result = podman.run("run", "--rm", "--network", "none", BASE, "true", check=False)
    if result.returncode == 0:
        return None
    return f"this machine cannot run containers: {result.stderr.strip()[-500:]}"


def build(podman: Podman) -> None:
    """Build IMAGE from the Dockerfile as shipped, on the imported base."""
    podman.run(
        *("build", "--format", "docker", "--network", "host", "--pull=never"),
        *("--build-arg", f"BASE_IMAGE={BASE}"),
        *("--volume", f"{HOST_CA}:/etc/ssl/certs/host-ca.crt:ro"),
        *("--volume", f"{podman.state / 'pip.conf'}:/etc/pip.conf:ro"),
        *("--tag", IMAGE, "--file", str(ROOT / "Dockerfile"), str(ROOT)),
        timeout=600,
    )
    podman.run("image", "prune", "--force")  # the last build's stages, in our storage only
