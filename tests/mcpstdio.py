"""`cachescope mcp` over stdio, driven by the official SDK's client from synchronous tests.

The client session lives in an event loop on a thread of its own, so one server process
(and its fleet) serves every test of a module; each call is sent to that loop and waited
for. Every answer is kept as JSON, so a test can search all of them for a secret.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from servers import ROOT

T = TypeVar("T")
# A call gets this long before the test fails: far above any tool's own bound.
CALL_SECONDS = 120.0


class StdioSession:
    """One `cachescope mcp` child over stdio and an open client session to it."""

    def __init__(self, *args: str, workdir: Path) -> None:
        self.stderr_path = workdir / "mcp-stderr.log"
        self.answers: list[str] = []  # every result, serialised, in call order
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._client: Client | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(args,), daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._client is None:
            raise RuntimeError(f"cachescope mcp did not start: {self._failure!r}\n{self.stderr()}")

    def _run(self, args: tuple[str, ...]) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve(args))
        except BaseException as exc:  # reported by __init__ or close
            self._failure = exc
        finally:
            self._ready.set()

    async def _serve(self, args: tuple[str, ...]) -> None:
        exporter = str(ROOT / "exporter")
        path = os.environ.get("PYTHONPATH", "")
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "cachescope", "mcp", *args],
            env={"PYTHONPATH": path or exporter},
        )
        self._stop = asyncio.Event()
        with open(self.stderr_path, "w") as errlog:  # noqa: ASYNC230 (opened once, at start)
            async with Client(stdio_client(params, errlog=errlog), cache=None) as client:
                self._client = client
                self._ready.set()
                await self._stop.wait()

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(CALL_SECONDS)

    @property
    def client(self) -> Client:
        assert self._client is not None
        return self._client

    def _keep(self, result: Any) -> Any:
        self.answers.append(result.model_dump_json())
        return result

    def call(self, tool: str, **arguments: Any) -> Any:
        """A tools/call result (is_error, structured_content, content)."""
        return self._keep(self._call(self.client.call_tool(tool, arguments)))

    def concurrently(self, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        """tools/call results of `calls`, all sent at once."""

        async def together() -> list[Any]:
            return list(await asyncio.gather(*(self.client.call_tool(n, a) for n, a in calls)))

        return [self._keep(result) for result in self._call(together())]

    def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        """The structured answer of a call that must succeed."""
        result = self.call(tool, **arguments)
        assert not result.is_error, f"{tool}({arguments}): {text(result)}"
        assert result.structured_content is not None
        return dict(result.structured_content)

    def refused(self, tool: str, **arguments: Any) -> str:
        """The one-line message of a call that must be a tool error."""
        result = self.call(tool, **arguments)
        assert result.is_error, f"{tool}({arguments}) was not refused: {text(result)}"
        return text(result)

    def list_tools(self) -> Any:
        return self._keep(self._call(self.client.list_tools()))

    def list_prompts(self) -> Any:
        return self._keep(self._call(self.client.list_prompts()))

    def get_prompt(self, name: str, **arguments: str) -> Any:
        return self._keep(self._call(self.client.get_prompt(name, arguments)))

    def list_resources(self) -> Any:
        return self._keep(self._call(self.client.list_resources()))

    def list_resource_templates(self) -> Any:
        return self._keep(self._call(self.client.list_resource_templates()))

    def read_resource(self, uri: str) -> Any:
        return self._keep(self._call(self.client.read_resource(uri)))

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def close(self) -> None:
        """End the session (the SDK then stops the child) and the loop's thread."""
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self._loop.close()


def text(result: Any) -> str:
    """The text of a result's first content block, or its JSON when it has none."""
    blocks = getattr(result, "content", None) or []
    first = blocks[0] if blocks else None
    return str(getattr(first, "text", "")) if first is not None else json.dumps(str(result))
