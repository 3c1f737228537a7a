"""The demo's configuration files as data: ports in, dicts out (no I/O but `write_rules`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from cachescope.rules import thresholds
from cachescope.rules.render import render_documents

# Scrape and evaluate every 5 s so a newcomer sees state change within seconds.
INTERVAL = "5s"
# The same inhibition as deploy/alertmanager/alertmanager.yml (tests/test_demo.py checks).
INHIBIT_RULES: list[dict[str, Any]] = [
    {
        "source_matchers": ['alertname=~"RedisDown|MemcachedDown"'],
        "target_matchers": ['severity=~"warning|info"'],
        "equal": ["instance"],
    },
    {
        "source_matchers": ['severity="critical"'],
        "target_matchers": ['severity="warning"'],
        "equal": ["alertname", "instance"],
    },
]


@dataclasses.dataclass(frozen=True)
class Ports:
    """Loopback ports of every part of the demo."""

    redis: int
    replica: int
    memcached: int
    exporter: int
    prometheus: int
    alertmanager: int
    receiver: int


# Target names, which become the `instance` label of every series and alert.
PRIMARY, REPLICA, MEMCACHED = "redis-primary", "redis-replica", "memcached"


def cachescope_config(ports: Ports) -> dict[str, Any]:
    """cachescope's config file: the three demo caches under readable names."""
    return {
        "defaults": {"timeout": "2s"},
        "targets": [
            {"uri": f"redis://127.0.0.1:{ports.redis}", "name": PRIMARY},
            {"uri": f"redis://127.0.0.1:{ports.replica}", "name": REPLICA},
            {"uri": f"memcached://127.0.0.1:{ports.memcached}", "name": MEMCACHED},
        ],
    }


def prometheus_config(ports: Ports, rule_dir: Path) -> dict[str, Any]:
    """Prometheus: scrape cachescope (keeping its instance labels), alert to Alertmanager."""
    return {
        "global": {"scrape_interval": INTERVAL, "evaluation_interval": INTERVAL},
        "rule_files": [str(rule_dir / "*.rules.yml")],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [f"127.0.0.1:{ports.alertmanager}"]}]}
            ]
        },
        "scrape_configs": [
            {
                "job_name": "cachescope",
                "honor_labels": True,
                "static_configs": [{"targets": [f"127.0.0.1:{ports.exporter}"]}],
            }
        ],
    }


def alertmanager_config(ports: Ports) -> dict[str, Any]:
    """Alertmanager: every alert to the demo's webhook, quickly, resolved ones too."""
    return {
        "route": {
            "receiver": "demo-webhook",
            "group_by": ["alertname", "instance"],
            "group_wait": "5s",
            "group_interval": "30s",
            "repeat_interval": "4h",
        },
        "receivers": [
            {
                "name": "demo-webhook",
                "webhook_configs": [
                    {"url": f"http://127.0.0.1:{ports.receiver}/", "send_resolved": True}
                ],
            }
        ],
        "inhibit_rules": INHIBIT_RULES,
    }


def write_rules(directory: Path, override: str | None) -> list[Path]:
    """Render the rule files from the thresholds (and an override file) into `directory`."""
    values = thresholds.load(override)
    written = []
    for name, text in render_documents(values, "prometheus").items():
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
