"""`cachescope demo`: run the whole stack on loopback until Ctrl-C."""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import click

from cachescope.demo import trouble
from cachescope.demo.configs import Ports
from cachescope.demo.processes import DemoError, choose_port, find_binaries
from cachescope.demo.receiver import Receiver
from cachescope.demo.stack import Stack, urls

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
F = TypeVar("F", bound=Callable[..., Any])
_PORT_HELP = "Port for {}; 0 or a busy port: a free one."


def _port(flag: str, default: int, what: str) -> Callable[[F], F]:
    return click.option(flag, default=default, show_default=True, help=_PORT_HELP.format(what))


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@_port("--redis-port", 6379, "the primary Redis")
@_port("--replica-port", 6380, "its replica")
@_port("--memcached-port", 11211, "Memcached")
@_port("--exporter-port", 9808, "cachescope")
@_port("--prometheus-port", 9090, "Prometheus")
@_port("--alertmanager-port", 9093, "Alertmanager")
@_port("--webhook-port", 5001, "the webhook receiver that prints notifications")
@click.option(
    "--thresholds",
    type=click.Path(dir_okay=False, exists=True),
    help="Thresholds override for the rules (see `cachescope rules render`).",
)
@click.option(
    "--break",
    "trouble_kind",
    type=click.Choice(sorted(trouble.BREAKS)),
    help="Make trouble after --break-after seconds: "
    + "; ".join(f"{kind}: {text}" for kind, text in sorted(trouble.BREAKS.items())),
)
@click.option("--break-after", default=30.0, show_default=True, help="Seconds before --break.")
def demo(
    redis_port: int,
    replica_port: int,
    memcached_port: int,
    exporter_port: int,
    prometheus_port: int,
    alertmanager_port: int,
    webhook_port: int,
    thresholds: str | None,
    trouble_kind: str | None,
    break_after: float,
) -> None:
    """Run Redis, Memcached, cachescope, Prometheus and Alertmanager locally, until Ctrl-C.

    Everything listens on 127.0.0.1 and lives in a temporary directory removed on exit.
    Alertmanager's notifications print here.
    """
    try:
        binaries = find_binaries()
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    taken: set[int] = set()
    requested = [redis_port, replica_port, memcached_port, exporter_port, prometheus_port]
    requested += [alertmanager_port, webhook_port]
    ports = Ports(*(choose_port(port, taken) for port in requested))
    workdir = Path(tempfile.mkdtemp(prefix="cachescope-demo-"))
    stack = Stack(binaries, ports, workdir)
    receiver = Receiver(ports.receiver)  # bound now, served once the servers run
    stop = threading.Event()
    _interrupt_on(_STOP_SIGNALS)
    try:
        click.echo(f"demo: starting in {workdir} (removed on exit)")
        stack.start(thresholds)
        receiver.start()
        _banner(ports)
        if trouble_kind:
            trouble.schedule(
                trouble_kind, break_after, stack.stop_primary, ports.redis, stop, click.echo
            )
        click.echo("demo: ready. Ctrl-C stops everything.")
        _watch(stack, stop)
    except DemoError as exc:
        click.echo(f"demo: {exc}", err=True)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        click.echo("\ndemo: stopping")
    finally:
        for signum in _STOP_SIGNALS:  # no second interrupt in the middle of the cleanup
            signal.signal(signum, signal.SIG_IGN)
        stop.set()
        stack.stop()
        receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    click.echo("demo: every process stopped, temporary files removed")


def _interrupt_on(signals: tuple[signal.Signals, ...]) -> None:
    """SIGTERM and SIGHUP stop the demo the way Ctrl-C does."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for signum in signals:
        signal.signal(signum, handler)


def _banner(ports: Ports) -> None:
    width = max(len(what) for what, _ in urls(ports))
    for what, where in urls(ports):
        click.echo(f"  {what:<{width}}  {where}")
    click.echo("Notifications print below as Alertmanager sends them (RedisRestarted, info,")
    click.echo("comes first: these servers just started). Make trouble, e.g. with --break, or:")
    for command in trouble.manual_commands(ports):
        click.echo(f"  {command}")


def _watch(stack: Stack, stop: threading.Event) -> None:
    """Report children that exit on their own (a stopped cache is part of the demo)."""
    reported: set[str] = set()
    while not stop.wait(1):
        for child in stack.exited():
            if child.name not in reported:
                reported.add(child.name)
                click.echo(f"demo: {child.name} exited (code {child.proc.returncode})")
