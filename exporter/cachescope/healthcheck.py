"""`cachescope healthcheck`: the image's HEALTHCHECK, probing where the exporter really listens.

A HEALTHCHECK command runs beside the exporter and is not told the flags or variables it was
started with: a `--web.listen-address` or a web config given at `docker run` would leave a fixed
probe knocking on the wrong port. So this reads the serve process's command line, environment
and working directory from /proc (in the image the exporter is PID 1) and parses them with
serve's own options, peers' spellings included. It speaks TLS when the web config has TLS,
without verifying the certificate (it talks to its own process, as the kubelet does), and
exits 0 when /-/healthy answers 200, 1 otherwise, saying nothing unless asked.
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import ssl
import sys
from pathlib import Path

import click

from cachescope.clioptions import ServeCommand
from cachescope.config.records import TIMEOUT
from cachescope.config.schema import parse_duration
from cachescope.config.yamlmarks import ConfigError
from cachescope.serveoptions import with_serve_options

# Wildcard listen hosts are probed on loopback, the way the kubelet's exec probe would.
_LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


@dataclasses.dataclass(frozen=True, slots=True)
class ServeProcess:
    """What a running `cachescope serve` was started with."""

    args: list[str]
    environ: dict[str, str]
    cwd: Path


@dataclasses.dataclass(frozen=True, slots=True)
class Probe:
    """Where and how to ask for /-/healthy."""

    host: str
    port: int
    tls: bool


def read_serve_process(pid: int, proc: Path = Path("/proc")) -> ServeProcess | None:
    """The serve arguments, environment and directory of process `pid`; None if not a serve."""
    base = proc / str(pid)
    try:
        argv = (base / "cmdline").read_bytes().split(b"\0")
        environ = (base / "environ").read_bytes().split(b"\0")
        cwd = Path(os.readlink(base / "cwd"))
    except OSError:
        return None
    words = [os.fsdecode(word) for word in argv if word]
    if "serve" not in words:
        return None
    pairs = (os.fsdecode(item).partition("=") for item in environ if b"=" in item)
    return ServeProcess(
        args=words[words.index("serve") + 1 :],
        environ={name: value for name, _, value in pairs},
        cwd=cwd,
    )


def probe_for(process: ServeProcess) -> Probe:
    """Parse the serve options as serve does; raise ValueError or ConfigError if they are bad."""
    from cachescope.web.server import parse_listen_address
    from cachescope.web.webconfig import load_web_config

    # serve reads its variables (and the peers') from os.environ: this short-lived process
    # takes on the exporter's environment so both parse the same words the same way.
    os.environ.clear()
    os.environ.update(process.environ)
    try:
        context = _serve_parser().make_context("serve", list(process.args), resilient_parsing=True)
    except click.ClickException as exc:
        raise ValueError(exc.format_message()) from None
    host, port = parse_listen_address(context.params["web_listen_address"])
    web_config_file = context.params.get("web_config_file")
    tls = False
    if web_config_file:
        # A relative path is relative to the exporter's directory, not to ours.
        tls = load_web_config(str(process.cwd / web_config_file)).tls is not None
    return Probe(host=_LOOPBACK.get(host, host), port=port, tls=tls)


def _serve_parser() -> click.Command:
    """A command with serve's options and its peers' spellings, that only parses."""
    return click.command("serve", cls=ServeCommand)(with_serve_options(lambda **_: None))


def is_healthy(probe: Probe, timeout: float) -> tuple[bool, str]:
    """GET /-/healthy; (True, status) on 200, else (False, why)."""
    connection: http.client.HTTPConnection
    if probe.tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection(
            probe.host, probe.port, timeout=timeout, context=context
        )
    else:
        connection = http.client.HTTPConnection(probe.host, probe.port, timeout=timeout)
    try:
        connection.request("GET", "/-/healthy")
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()
    return status == 200, f"HTTP {status}"


@click.command("healthcheck")
@click.option(
    "--pid",
    type=int,
    default=1,
    help="The serve process to probe (in the image the exporter is PID 1).",
)
@click.option("--timeout", default="2s", help="How long to wait for the answer.")
@click.option("-v", "--verbose", is_flag=True, help="Say what was probed and what answered.")
def healthcheck(pid: int, timeout: str, verbose: bool) -> None:
    """Exit 0 if the exporter answers /-/healthy with 200, else 1: the image's HEALTHCHECK."""
    healthy, why = _check(pid, timeout)
    if verbose:
        click.echo(why, err=True)
    sys.exit(0 if healthy else 1)


def _check(pid: int, timeout: str) -> tuple[bool, str]:
    """Find the exporter's address and probe it; every failure is a reason, not a traceback."""
    process = read_serve_process(pid)
    if process is None:
        # Not a readable `cachescope serve`: our own flags' variables and defaults say where.
        process = ServeProcess(args=[], environ=dict(os.environ), cwd=Path.cwd())
    try:
        seconds = parse_duration(timeout, TIMEOUT)
        probe = probe_for(process)
    except (ValueError, ConfigError, OSError) as exc:
        return False, f"cannot tell where the exporter listens: {exc}"
    healthy, answer = is_healthy(probe, seconds)
    scheme = "https" if probe.tls else "http"
    host = f"[{probe.host}]" if ":" in probe.host else probe.host
    return healthy, f"{scheme}://{host}:{probe.port}/-/healthy: {answer}"
