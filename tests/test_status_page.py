"""The status page at /, as a person sees it in a real (headless) Chromium."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from pngread import colours
from servers import Exporter, MemcachedServer, RedisServer, free_port, require_binary

# The state cells' backgrounds in the page's stylesheet.
UP_BACKGROUND = (0xD8, 0xF5, 0xD8)
DOWN_BACKGROUND = (0xF9, 0xD2, 0xD2)


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium, kept off the network: only our loopback page is fetched."""
    profile = tempfile.mkdtemp(prefix="cachescope-chromium-")
    return subprocess.run(
        [
            require_binary("chromium"),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1200,600",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )


def test_status_page_shows_every_target_and_marks_the_down_one(
    redis_server: RedisServer,
    memcached_server: MemcachedServer,
    start_exporter,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    down = f"redis://127.0.0.1:{free_port()}"
    exporter: Exporter = start_exporter(
        "--target",
        redis_server.uri,
        "--target",
        memcached_server.uri,
        "--target",
        down,
        "--timeout",
        "1s",
    )
    exporter.metrics()  # one scrape, so every target has a state
    url = f"http://127.0.0.1:{exporter.port}/"

    dom = chromium("--dump-dom", url).stdout
    rows = re.findall(r'<tr class="(\w+)" data-target="([^"]+)"', dom)
    states = {target: state for state, target in rows}
    assert states == {
        f"127.0.0.1:{redis_server.port}": "up",
        f"127.0.0.1:{memcached_server.port}": "up",
        down.removeprefix("redis://"): "down",
    }
    assert "Connection refused" in dom
    assert "Targets: 2 up, 1 down" in dom

    screenshot = tmp_path / "status.png"
    chromium(f"--screenshot={screenshot}", url)
    painted = colours(screenshot.read_bytes())
    # The down target's state cell is painted red, the up ones green: visible, not just text.
    assert painted[DOWN_BACKGROUND] > 500
    assert painted[UP_BACKGROUND] > 2 * 500
