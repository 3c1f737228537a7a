"""Reading the web config again: with the configuration, and when its files change.

cert-manager and friends rotate a certificate by replacing its file (in
Kubernetes, by swapping the Secret volume's symlink), so a background thread
compares the certificate, key and CA files' stat() every few seconds, which
reads nothing, and loads the web config again when one changed. A new config
or certificate that does not load is refused and logged, the running one stays,
and the failure shows on /metrics.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable

from cachescope.config.yamlmarks import ConfigError
from cachescope.exposition.families import MetricSet
from cachescope.exposition.textformat import COUNTER, GAUGE
from cachescope.logs import fields
from cachescope.web.webconfig import WebConfig, load_web_config

log = logging.getLogger(__name__)

# A rotated certificate is served within this; a stat() of three files costs microseconds.
POLL_SECONDS = 5.0
Signature = tuple[tuple[str, int, int, int, int, int], ...]
_RESTART = (
    "a reload cannot {what} the listener (a restart is needed to change the listener's "
    "protocol); the running web config stays"
)


def signature(paths: tuple[str, ...]) -> Signature:
    """What tells a replaced or rewritten file: device, inode, size, mtime, ctime (0s if absent).

    The change time too: `cp -p` or `rsync --inplace -t` rewrite a certificate in place
    with its size and mtime kept, but no one can set the ctime back.
    """
    seen = []
    for path in paths:
        try:
            st = os.stat(path)  # follows symlinks: a swapped Secret volume shows
            seen.append((path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        except OSError:
            seen.append((path, 0, 0, 0, 0, 0))
    return tuple(seen)


@dataclasses.dataclass(slots=True)
class ReloadStats:
    """How the web config's reloads went, for /metrics."""

    failures: int = 0
    last_ok: bool = True
    last_success: float = dataclasses.field(default_factory=time.time)

    def add_metrics(self, metrics: MetricSet) -> None:
        metrics.add(
            "cachescope_web_config_last_reload_successful",
            GAUGE,
            "Whether the last reload of the web config (TLS, users, headers) succeeded.",
            int(self.last_ok),
        )
        metrics.add(
            "cachescope_web_config_reload_failures_total",
            COUNTER,
            "Reloads of the web config refused; the running one was kept.",
            self.failures,
        )
        metrics.add(
            "cachescope_web_config_last_reload_success_timestamp_seconds",
            GAUGE,
            "When the web config was last loaded successfully.",
            self.last_success,
        )


class WebReloader:
    """Loads the web config of `current` again, and hands a good one to `apply`."""

    def __init__(self, current: WebConfig, apply: Callable[[WebConfig], None]) -> None:
        self.source = current.source
        # Fixed at start, as exporter-toolkit does: a reload never turns a TLS port to
        # plain HTTP (basic-auth passwords would then cross in clear), nor the reverse.
        self.tls = current.tls is not None
        self.stats = ReloadStats()
        self._apply = apply
        self._lock = threading.Lock()
        self._seen = self._signature(current)
        self._stop = threading.Event()

    def _signature(self, web: WebConfig) -> Signature:
        # The certificate files only: an edit of the web config itself waits for a
        # reload, as one of the configuration does, so that a half-saved file is not read.
        return signature(web.files)

    def load(self) -> WebConfig | None:
        """The web config as the files say now (None if there is none); ConfigError if bad."""
        if self.source is None:
            return None
        try:
            web = load_web_config(self.source)
            if (web.tls is not None) != self.tls:
                what = "remove tls_server_config from" if self.tls else "add TLS to"
                raise ConfigError(_RESTART.format(what=what), self.source)
        except ConfigError:
            self._failed()
            raise
        return web

    def use(self, web: WebConfig | None) -> None:
        """Serve a loaded web config from now on."""
        if web is None:
            return
        with self._lock:
            self._apply(web)
            self._seen = self._signature(web)
            self.stats.last_ok, self.stats.last_success = True, time.time()

    def poll(self) -> None:
        """Reload if a file changed since the last look; log and keep the old one if it fails."""
        if self.source is None:
            return
        with self._lock:
            now = signature(tuple(path for path, *_ in self._seen))
            if now == self._seen:
                return
            self._seen = now  # a broken file is tried again when it changes again
        try:
            web = self.load()
        except ConfigError as exc:
            log.error(
                "web config or certificate changed but does not load; keeping the running one",
                extra=fields(error=str(exc)),
            )
            return
        self.use(web)
        log.info("web config reloaded: its files changed", extra=fields(file=self.source))

    def _failed(self) -> None:
        with self._lock:
            self.stats.failures += 1
            self.stats.last_ok = False

    def watch(self, every: float = POLL_SECONDS) -> None:
        """Poll in a daemon thread until stop()."""

        def run() -> None:
            while not self._stop.wait(every):
                try:
                    self.poll()
                except Exception as exc:  # the watch must outlive a surprise
                    log.warning("web config watch: unexpected %s", type(exc).__name__)

        if self.source is not None:
            threading.Thread(target=run, name="web-config-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
