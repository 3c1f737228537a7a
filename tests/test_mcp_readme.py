"""README's `cachescope mcp` section: its desktop snippet runs the real command's options."""

from __future__ import annotations

import json
import re
from pathlib import Path

import anyio
import pytest
from cachescope.cli import main
from cachescope.config.records import Config
from cachescope.fleet import Fleet
from cachescope.mcpserver.server import build
from cachescope.mcpserver.tools import Toolbox
from cachescope.rules import thresholds
from click.testing import CliRunner

README = Path(__file__).resolve().parent.parent / "README.md"


def _section() -> str:
    text = README.read_text()
    start = text.index("## For AI assistants: `cachescope mcp`")
    return text[start : text.index("\n## ", start + 1)]


def test_the_desktop_snippet_is_json_whose_arguments_mcp_accepts() -> None:
    block = re.search(r"```json\n(.*?)```", _section(), re.S)
    assert block is not None
    server = json.loads(block.group(1))["mcpServers"]["cachescope"]
    assert server["command"] == "cachescope" and server["args"][0] == "mcp"
    options = CliRunner().invoke(main, ["mcp", "--help"]).output
    for arg in server["args"][1:]:
        if arg.startswith("--"):
            assert arg in options, f"README passes {arg}, which `cachescope mcp` lacks"


def _served_tools() -> list[str]:
    fleet = Fleet(Config(targets=[]))
    try:
        server = build(Toolbox(fleet, thresholds.load()))
        return [tool.name for tool in anyio.run(server.list_tools)]
    finally:
        fleet.close()


@pytest.mark.live  # an event loop opens a socket pair
def test_the_tools_table_and_the_help_name_every_tool_the_server_offers() -> None:
    served = _served_tools()
    assert len(served) == 6
    listed = re.findall(r"^\| `([a-z_]+)", _section(), re.M)
    assert listed == served
    help_text = CliRunner().invoke(main, ["mcp", "--help"]).output
    for tool in served:
        assert tool in help_text
