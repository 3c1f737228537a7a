"""A real `prometheus` for the live rule tests: it scrapes cachescope and evaluates our rules."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from cachescope.rules import thresholds
from cachescope.rules.render import render_documents
from servers import Process, free_port, require_binary, wait_for

Firing = set[tuple[str, str, str]]  # (alertname, severity, instance)


def render_rules(override: Path, rule_dir: Path) -> Path:
    """Write the rules rendered from the defaults merged with `override` into `rule_dir`."""
    rule_dir.mkdir(parents=True, exist_ok=True)
    for name, text in render_documents(thresholds.load(override), "prometheus").items():
        (rule_dir / name).write_text(text)
    return rule_dir


class Prometheus(Process):
    """prometheus on a free loopback port, scraping and evaluating every second."""

    def __init__(self, workdir: Path, exporter_port: int, rule_dir: Path) -> None:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rule_dir / "*.rules.yml")],
            "scrape_configs": [
                {
                    "job_name": "cachescope",
                    "honor_labels": True,
                    "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
                }
            ],
        }
        self.launch(workdir, config)

    def launch(self, workdir: Path, config: dict[str, Any]) -> None:
        """Run prometheus on `config` (written to workdir) and wait until it is ready."""
        self.port = free_port()
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        Process.__init__(
            self,
            [
                require_binary("prometheus"),
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            workdir,
            "prometheus",
        )
        wait_for(lambda: self.api("/-/ready") is not None, 30, f"prometheus: {self.log()}")

    def api(self, path: str) -> object:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as reply:
            body = reply.read().decode()
        return json.loads(body) if path.startswith("/api/") else body

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector `expr` evaluates to now: a list of {metric, value}."""
        reply = self.api("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert isinstance(reply, dict) and reply["status"] == "success", reply
        result: list[dict[str, Any]] = reply["data"]["result"]
        return result

    def firing(self) -> Firing:
        reply = self.api("/api/v1/alerts")
        assert isinstance(reply, dict) and reply["status"] == "success", reply
        return {
            (a["labels"]["alertname"], a["labels"]["severity"], a["labels"]["instance"])
            for a in reply["data"]["alerts"]
            if a["state"] == "firing"
        }
