"""The demo's webhook receiver: Alertmanager posts notifications, we print one line each."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import click


def describe(payload: dict[str, Any]) -> list[str]:
    """One line per alert of an Alertmanager webhook payload (version 4)."""
    lines = []
    for alert in payload.get("alerts", []):
        labels, notes = alert.get("labels", {}), alert.get("annotations", {})
        firing = alert.get("status") == "firing"
        status = (
            click.style("FIRING  ", fg="red") if firing else click.style("RESOLVED", fg="green")
        )
        lines.append(
            f"{time.strftime('%H:%M:%S')} {status} {labels.get('alertname', '?')}"
            f" severity={labels.get('severity', '?')} instance={labels.get('instance', '?')}:"
            f" {notes.get('summary', '')}"
        )
    return lines


class Receiver:
    """An HTTP server on 127.0.0.1:port that prints each notification it is sent."""

    def __init__(self, port: int, echo: Callable[[str], None] = click.echo) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    payload = json.loads(self.rfile.read(length))
                except ValueError:
                    self.send_error(400, "not JSON")
                    return
                for line in describe(payload):
                    echo(line)
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Quiet: the notifications are the output."""

        # Bound now, served from start(): the socket exists before Alertmanager sends.
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.server.shutdown()
            self._thread.join(5)
        self.server.server_close()
