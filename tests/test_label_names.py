"""A target's own labels never name a label cachescope's series carry (config/labelnames.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cachescope.config.labelnames import DISCOVERY_LABELS, FAMILY_LABELS
from cachescope.config.loader import load_config
from cachescope.config.yamlmarks import ConfigError
from servers import MemcachedServer, StartExporter, StartRedis

PACKAGE = Path(__file__).resolve().parent.parent / "exporter" / "cachescope"
# PromQL, dashboards and reports name labels of other series (Prometheus' own, alerts').
# So do the config readers, the log formatter and the status page: none writes a sample.
_NOT_EXPOSITION = (
    "alerts",
    "dashboards",
    "rules",
    "analyze",
    "demo",
    "config",
    "logs.py",
    "mcpserver",
)
_NOT_EXPOSITION_FILES = ("webconfig.py", "status.py", "basicauth.py")
_LABEL_PAIR = re.compile(r'\(\("([a-z_][a-z0-9_]*)", ')  # ((name, value), ...) in the code
_SAMPLE = re.compile(r"\b[a-z_]+_[a-z_]+\{([^}]*)\}")  # a docstring's sample line
# prometheus_client's own series: never carry a target's labels.
_CLIENT_LIBRARY = {"generation", "implementation", "major", "minor", "patchlevel", "version"}


def _source_label_names() -> set[str]:
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] in _NOT_EXPOSITION or (
            path.name in _NOT_EXPOSITION_FILES
        ):
            continue
        text = path.read_text()
        names.update(_LABEL_PAIR.findall(text))
        for inside in _SAMPLE.findall(text):
            names.update(re.findall(r'([a-z_][a-z0-9_]*)="', inside))
    return names


@pytest.mark.unit
def test_every_label_name_in_the_code_is_refused_as_a_target_label() -> None:
    missing = _source_label_names() - FAMILY_LABELS - set(DISCOVERY_LABELS)
    assert not missing, f"add to config/labelnames.py: {sorted(missing)}"


@pytest.mark.unit
@pytest.mark.parametrize("label", sorted(FAMILY_LABELS))
def test_a_target_label_named_like_a_family_label_is_a_located_error(
    tmp_path: Path, label: str
) -> None:
    config = tmp_path / "cachescope.yml"
    config.write_text(f"targets:\n  - uri: redis://127.0.0.1:6379\n    labels: {{{label}: x}}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(config))
    assert f"cachescope.yml:3: targets[0].labels.{label}:" in str(caught.value)


@pytest.mark.live
def test_every_label_on_a_live_metrics_page_is_refused_as_a_target_label(
    start_redis: StartRedis, start_exporter: StartExporter, memcached_server: MemcachedServer
) -> None:
    server = start_redis()
    server.client().set("k", "v")
    server.client().client_setname("web")
    exporter = start_exporter(
        "--target",
        server.uri,
        "--target",
        f"memcached://127.0.0.1:{memcached_server.port}",
        "--redis.client-breakdown",
        "--append-instance-role-label",
    )
    metrics = exporter.metrics()
    seen = {name for _, labels, _ in metrics.samples for name in labels}
    assert {"client_name", "instance_role", "command"} <= seen, sorted(seen)
    assert seen - _CLIENT_LIBRARY - FAMILY_LABELS - set(DISCOVERY_LABELS) == set()


@pytest.mark.unit
@pytest.mark.parametrize("label", DISCOVERY_LABELS)
def test_a_target_may_carry_the_labels_discovery_gives_its_nodes(
    tmp_path: Path, label: str
) -> None:
    config = tmp_path / "cachescope.yml"
    config.write_text(f"targets:\n  - uri: redis://127.0.0.1:6379\n    labels: {{{label}: x}}\n")
    (target,) = load_config(str(config)).targets
    assert (label, "x") in target.labels  # `cluster: payments` on a plain target is common
