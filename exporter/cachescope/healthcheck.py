"""`cachescope healthcheck`: the image's HEALTHCHECK, probing where the exporter really listens.

A HEALTHCHECK command runs beside the exporter and is not told the flags or variables it was
started with: a `--web.listen-address` given at `docker run` would leave a fixed probe
knocking on the wrong port. So this reads the serve process's command line and environment
from /proc (in the image the exporter is PID 1) and parses them with serve's own options,
peers' spellings included. It does not read the web config file: the file on disk may be an
edit the exporter refused or has not reloaded yet, so it asks the port itself, in TLS first
and, when the peer answers the hello with something else, in plain HTTP. It exits 0 when
/-/healthy answers 200, 1 otherwise, saying nothing unless asked.
"""

from __future__ import annotations

import contextlib
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
from cachescope.serveoptions import with_serve_options

# Wildcard listen hosts are probed on loopback, the way the kubelet's exec probe would.
_LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


@dataclasses.dataclass(frozen=True, slots=True)
class ServeProcess:
    """What a running `cachescope serve` was started with."""

    args: list[str]
    environ: dict[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class Probe:
    """Where to ask for /-/healthy."""

    host: str
    port: int


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt at /-/healthy got, in one scheme."""

    healthy: bool
    scheme: str
    why: str
    not_tls: bool = False  # the peer met the TLS hello with something else: try plain HTTP


# Alerts a live TLS listener sends a client with no certificate when it requires one:
# TLS 1.3 names it; TLS 1.2 has only handshake_failure, which a probe offering every
# suite and version (below) gets for nothing else from the exporter's own TLS stack.
_CLIENT_CERTIFICATE_WANTED = {"TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_HANDSHAKE_FAILURE"}


def read_serve_process(pid: int, proc: Path = Path("/proc")) -> ServeProcess | None:
    """The serve arguments and environment of process `pid`; None if not a serve."""
    base = proc / str(pid)
    try:
        argv = (base / "cmdline").read_bytes().split(b"\0")
        environ = (base / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    words = [os.fsdecode(word) for word in argv if word]
    if "serve" not in words:
        return None
    pairs = (os.fsdecode(item).partition("=") for item in environ if b"=" in item)
    return ServeProcess(
        args=words[words.index("serve") + 1 :],
        environ={name: value for name, _, value in pairs},
    )


def probe_for(process: ServeProcess) -> Probe:
    """Parse the serve options as serve does; raise ValueError if they are bad."""
    from cachescope.web.server import parse_listen_address

    # serve reads its variables (and the peers') from os.environ: this short-lived process
    # takes on the exporter's environment so both parse the same words the same way.
    os.environ.clear()
    os.environ.update(process.environ)
    try:
        context = _serve_parser().make_context("serve", list(process.args), resilient_parsing=True)
    except click.ClickException as exc:
        raise ValueError(exc.format_message()) from None
    host, port = parse_listen_address(context.params["web_listen_address"])
    return Probe(host=_LOOPBACK.get(host, host), port=port)


def _serve_parser() -> click.Command:
    """A command with serve's options and its peers' spellings, that only parses."""
    return click.command("serve", cls=ServeCommand)(with_serve_options(lambda **_: None))


def any_tls() -> ssl.SSLContext:
    """A client that speaks every version and suite a web config may limit the server to."""
    # No verification and no strictness: it talks to its own process over loopback, as the
    # kubelet's probe does, and must not fail where Prometheus and curl succeed.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_ciphers("ALL:@SECLEVEL=0")
    with contextlib.suppress(ValueError, ssl.SSLError):  # an OpenSSL built without old TLS
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    return context


def ask(probe: Probe, timeout: float, tls: bool) -> Answer:
    """GET /-/healthy once, in TLS or plain HTTP."""
    scheme = "https" if tls else "http"
    connection = (
        http.client.HTTPSConnection(probe.host, probe.port, timeout=timeout, context=any_tls())
        if tls
        else http.client.HTTPConnection(probe.host, probe.port, timeout=timeout)
    )
    try:
        connection.request("GET", "/-/healthy")
        status = connection.getresponse().status
    except ssl.SSLError as exc:
        reason = str(exc.reason)
        if reason in _CLIENT_CERTIFICATE_WANTED:
            # The exporter loaded its certificate, took the connection and ran the handshake
            # up to asking for ours: as much proof of life as a 200, without its client key.
            return Answer(True, scheme, f"TLS alert {reason}: it requires a client certificate")
        return Answer(False, scheme, _reason(exc), not_tls="ALERT" not in reason)
    except ConnectionResetError as exc:  # a plain HTTP server hanging up on a TLS hello
        return Answer(False, scheme, _reason(exc), not_tls=tls)
    except (OSError, http.client.HTTPException) as exc:
        return Answer(False, scheme, _reason(exc))
    finally:
        connection.close()
    return Answer(status == 200, scheme, f"HTTP {status}")


def is_healthy(probe: Probe, timeout: float) -> Answer:
    """Ask in TLS; if the peer does not speak it, in plain HTTP."""
    answer = ask(probe, timeout, tls=True)
    return ask(probe, timeout, tls=False) if answer.not_tls else answer


def _reason(exc: BaseException) -> str:
    """An exception as one line, its type first."""
    return f"{type(exc).__name__}: {exc}"


@click.command("healthcheck")
@click.option(
    "--pid",
    type=int,
    default=1,
    help="The serve process to probe (in the image the exporter is PID 1).",
)
@click.option("--timeout", default="2s", help="How long to wait for each answer.")
@click.option("-v", "--verbose", is_flag=True, help="Say what was probed and what answered.")
def healthcheck(pid: int, timeout: str, verbose: bool) -> None:
    """Exit 0 if the exporter answers /-/healthy with 200, else 1: the image's HEALTHCHECK."""
    try:
        seconds = parse_duration(timeout, TIMEOUT)
    except ValueError as exc:
        # The probe's own flag is wrong, not the exporter: said always, and exit 1 (Docker
        # reserves 2).
        click.echo(f"cachescope healthcheck: --timeout: {exc}", err=True)
        sys.exit(1)
    healthy, why = _check(pid, seconds)
    if verbose:
        click.echo(why, err=True)
    sys.exit(0 if healthy else 1)


def _check(pid: int, seconds: float) -> tuple[bool, str]:
    """Find the exporter's address and probe it; every failure is a reason, not a traceback."""
    process = read_serve_process(pid)
    if process is None:
        # Not a readable `cachescope serve`: our own flags' variables and defaults say where.
        process = ServeProcess(args=[], environ=dict(os.environ))
    try:
        probe = probe_for(process)
    except ValueError as exc:
        return False, f"cannot tell where the exporter listens: {exc}"
    answer = is_healthy(probe, seconds)
    host = f"[{probe.host}]" if ":" in probe.host else probe.host
    return answer.healthy, f"{answer.scheme}://{host}:{probe.port}/-/healthy: {answer.why}"
