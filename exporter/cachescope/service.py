"""The running exporter: serve, reload on SIGHUP or POST /-/reload, stop gracefully."""

from __future__ import annotations

import contextlib
import logging
import resource
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

from cachescope.config.records import Config
from cachescope.config.yamlmarks import ConfigError
from cachescope.fleet import Fleet, Limits
from cachescope.logs import fields
from cachescope.web.server import ExporterServer
from cachescope.web.webconfig import WebConfig
from cachescope.web.webreload import WebReloader

log = logging.getLogger(__name__)
_REFUSED = "reload refused, keeping the running configuration"

# File descriptors kept for the HTTP side, name resolution and logs when sizing
# how many targets may hold a connection between scrapes.
_RESERVED_FDS = 256
# A reload reads only small local files, so one still running after this is stuck.
_RELOAD_WAIT = 10.0
T = TypeVar("T")


def raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard one; return the result."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def connection_budget(requested: int) -> int:
    """Targets that may keep a connection: as requested, within the file limit."""
    available = max(raise_fd_limit() - _RESERVED_FDS, 16)
    if requested and requested > available:
        log.warning(
            "--limits.max-connections exceeds the open-file limit; using what it allows",
            extra=fields(requested=requested, using=available),
        )
    return min(requested, available) if requested else available


class Service:
    def __init__(
        self,
        load: Callable[[], Config],
        address: tuple[str, int],
        web: WebConfig,
        *,
        limits: Limits,
        web_max_connections: int,
        shutdown_grace: float,
        audit_interval: float = 0.0,
    ) -> None:
        self._load = load
        self._reload_lock = threading.Lock()
        self.shutdown_grace = shutdown_grace
        self.fleet = Fleet(load(), limits, audit_interval=audit_interval)
        self.server = ExporterServer(
            address, self.fleet, web, self.reload, web_max_connections=web_max_connections
        )
        # The web config is read again with the configuration, and when its files change.
        self.web_reloader = WebReloader(web, self.server.use_web)
        self.server.web_reloads = self.web_reloader.stats

    def reload(self) -> None:
        """Load the configuration again; on any failure the running one stays.

        Whatever goes wrong comes out as a ConfigError with a message fit for the
        client of POST /-/reload: never another exception, never a traceback.
        """
        if not self._reload_lock.acquire(timeout=_RELOAD_WAIT):
            raise ConfigError("another reload is still under way; try again later")
        try:
            config = self._checked(self._load)
            web = self._checked(self.web_reloader.load)  # both load, or neither is used
            self._checked(lambda: self.fleet.reload(config))
            self.web_reloader.use(web)
            log.info("configuration reloaded", extra=fields(targets=len(config.targets)))
        finally:
            self._reload_lock.release()

    @staticmethod
    def _checked(step: Callable[[], T]) -> T:
        """Run one step of a reload, turning every failure into a logged ConfigError."""
        try:
            return step()
        except ConfigError as exc:
            log.error(_REFUSED, extra=fields(error=str(exc)))
            raise
        except Exception as exc:  # a reload must never take the exporter (or a thread) down
            # The type only: an unexpected exception's text may quote what it failed on.
            log.error(_REFUSED, extra=fields(error=type(exc).__name__))
            log.debug("reload failure", exc_info=True)
            raise ConfigError(
                f"unexpected {type(exc).__name__} while reloading; see the exporter log"
            ) from None

    def _on_sighup(self, signum: int, frame: FrameType | None) -> None:
        def run() -> None:
            with contextlib.suppress(Exception):  # reload() has logged why
                self.reload()

        threading.Thread(target=run, name="reload", daemon=True).start()

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        log.info("SIGTERM: stopping")
        threading.Thread(target=self.server.shutdown, name="shutdown", daemon=True).start()

    def run(self) -> bool:
        """Serve until SIGTERM or Ctrl-C, then stop; false if work was left running."""
        signal.signal(signal.SIGHUP, self._on_sighup)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        host, port = self.server.server_address[:2]
        log.info("listening", extra=fields(address=f"{host}:{port}"))
        self.web_reloader.watch()
        try:
            self.server.serve_forever()
        except KeyboardInterrupt:
            log.info("interrupted: stopping")
        finally:
            clean = self.stop()
        return clean

    def stop(self) -> bool:
        """Stop listening, let requests under way finish (up to the grace), close connections."""
        self.web_reloader.stop()
        self.server.server_close()
        deadline = time.monotonic() + self.shutdown_grace
        while self.server.active and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.server.active:
            log.warning(
                "requests still running after the shutdown timeout; closing anyway",
                extra=fields(requests=self.server.active, timeout=f"{self.shutdown_grace:g}s"),
            )
        closer = threading.Thread(target=self.fleet.close, daemon=True)
        closer.start()
        closer.join(max(deadline - time.monotonic(), 1.0))
        log.info("stopped")
        return not self.server.active and not closer.is_alive()
