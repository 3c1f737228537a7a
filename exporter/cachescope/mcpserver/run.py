"""Start the MCP server over the chosen transport, with a fleet that lives as long as it."""

from __future__ import annotations

import anyio

from cachescope.config.flags import TargetFlags
from cachescope.fleet import Fleet
from cachescope.mcpserver.server import build
from cachescope.mcpserver.tools import Toolbox
from cachescope.rules import thresholds as thresholds_file


def main(
    flags: TargetFlags,
    thresholds_path: str | None,
    transport: str,
    listen_address: str,
    web_config_file: str | None,
) -> None:
    """Load everything (a bad file fails here, before a byte is served), then serve."""
    limits = thresholds_file.load(thresholds_path)
    config = flags.load()
    if transport == "http":
        from cachescope.mcpserver import webapp

        serve_http = webapp.prepare(listen_address, web_config_file)
    fleet = Fleet(config)
    try:
        server = build(Toolbox(fleet, limits))
        if transport == "http":
            anyio.run(serve_http, server)
        else:
            anyio.run(server.run_stdio_async)
    finally:
        fleet.close()
