"""The Kubernetes manifests as a cluster would get them: rendered by kustomize (no warning),
scanned by checkov (only the skips the manifests give reasons for), the restricted Pod
Security Standard's fields, the password as a file, the operator's selection labels and
the sharded StatefulSet variant."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cachescope import __version__
from cachescope.rules import thresholds
from cachescope.scrape.shard import Shard, in_shard, parse_shard
from servers import ROOT

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
OVERLAYS = DEPLOY / "overlays"
TOOLS = ROOT / ".venv-tools" / "bin"  # scripts/setup.sh installs the pinned tools there
# Every test here runs kubectl or checkov.
pytestmark = pytest.mark.live
SKIP = re.compile(r"^(CKV2?_K8S_\d+)=(.{40,})$")  # an id and a reason of a sentence


def tool(name: str) -> str:
    """A pinned tool from .venv-tools; missing is a failure: CI must have run setup.sh."""
    path = TOOLS / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run scripts/setup.sh (it installs checkov and kubectl)")
    return str(path)


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize` renders; any warning on stderr fails."""
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(directory)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", f"kustomize warned: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def only(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [obj for obj in objects if obj["kind"] == kind]
    return found


def documented_skips() -> dict[str, str]:
    """Check id -> reason, from every checkov.io/skip annotation under deploy/kubernetes."""
    skips = {}
    for path in KUBERNETES.rglob("*.yaml"):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            annotations = (document or {}).get("metadata", {}).get("annotations", {})
            for key, value in annotations.items():
                if key.startswith("checkov.io/skip"):
                    match = SKIP.match(value)
                    assert match, f"{path.name}: {key} needs an id and a reason: {value!r}"
                    skips[match[1]] = match[2]
    return skips


@pytest.mark.parametrize("directory", [KUBERNETES, OVERLAYS], ids=["base", "overlays"])
def test_checkov_passes_with_only_the_skips_the_manifests_explain(directory: Path) -> None:
    # Its own PATH first: checkov renders kustomizations with the pinned kubectl.
    env = {**os.environ, "PATH": f"{TOOLS}:{os.environ['PATH']}"}
    command = [tool("checkov"), "-d", str(directory), "--skip-download", "-o", "json"]
    command += ["--framework", "kubernetes", "kustomize"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert "kustomize" in {report["check_type"] for report in reports}  # the rendered objects
    allowed = documented_skips()
    assert set(allowed) == {"CKV_K8S_43", "CKV_K8S_15", "CKV_K8S_11"}
    for report in reports:
        summary = report["summary"]
        assert (summary["failed"], summary["parsing_errors"]) == (0, 0), report["check_type"]
        assert summary["passed"] > 50 and summary["resource_count"] >= 9
        skipped = {check["check_id"] for check in report["results"]["skipped_checks"]}
        assert skipped <= set(allowed), skipped - set(allowed)


def test_every_variant_renders_without_warnings_into_one_namespace() -> None:
    for directory in (KUBERNETES, *sorted(p for p in OVERLAYS.iterdir() if p.is_dir())):
        objects = kustomize(directory)
        assert {obj["metadata"].get("namespace") for obj in objects} == {"monitoring"}
        for obj in objects:
            labels = obj["metadata"]["labels"]
            assert labels["app.kubernetes.io/name"] == "cachescope", obj["kind"]
    assert "commonLabels" not in yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())


WORKLOADS = {"Deployment": KUBERNETES, "StatefulSet": OVERLAYS / "sharded"}


def workload(kind: str) -> dict[str, Any]:
    """The base's Deployment or the sharded variant's StatefulSet, as rendered."""
    return only(kustomize(WORKLOADS[kind]), kind)


@pytest.mark.parametrize("kind", WORKLOADS)
def test_pods_set_every_field_of_the_restricted_pod_security_standard(kind: str) -> None:
    rendered = workload(kind)
    pod = rendered["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["readOnlyRootFilesystem"] is True
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["runAsNonRoot"] is True
    # Pinned by the version this tree builds; the README says how to pin by digest.
    assert container["image"] == f"cachescope:{__version__}"


@pytest.mark.parametrize("kind", WORKLOADS)
def test_password_is_a_mounted_secret_file_never_a_variable(kind: str) -> None:
    rendered = workload(kind)
    pod = rendered["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert not [e for e in container.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
    assert "envFrom" not in container
    volumes = {v["name"]: v for v in pod["volumes"]}
    (mount,) = [m for m in container["volumeMounts"] if "secret" in volumes[m["name"]]]
    secret = volumes[mount["name"]]["secret"]
    assert secret["secretName"] == "cachescope-credentials"
    assert mount["readOnly"] is True
    config = yaml.safe_load(configmap_text())
    files = [config["defaults"]["password_file"]]
    files += [rule["password_file"] for rule in config["scrape"]["allow"]]
    assert all(path == f"{mount['mountPath']}/redis-password" for path in files), files


def configmap_text() -> str:
    objects = kustomize(KUBERNETES)
    (config,) = [o for o in objects if o["metadata"]["name"] == "cachescope-config"]
    return str(config["data"]["cachescope.yml"])


@pytest.mark.parametrize("kind", WORKLOADS)
def test_probes_use_the_health_paths_that_need_no_auth(kind: str) -> None:
    rendered = workload(kind)
    (container,) = rendered["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "metrics"}
    assert "scheme" not in container["readinessProbe"]["httpGet"]  # plain HTTP by default


@pytest.mark.parametrize("kind", WORKLOADS)
def test_tls_probes_component_switches_both_probes_to_https(kind: str, tmp_path: Path) -> None:
    # An overlay of the user's own, as the component's comment says to write one.
    relative = os.path.relpath(WORKLOADS[kind], tmp_path)
    component = os.path.relpath(KUBERNETES / "components" / "tls-probes", tmp_path)
    overlay = {"resources": [relative], "components": [component]}
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    (container,) = only(kustomize(tmp_path), kind)["spec"]["template"]["spec"]["containers"]
    for probe, path in (("readinessProbe", "/-/ready"), ("livenessProbe", "/-/healthy")):
        expected = {"path": path, "port": "metrics", "scheme": "HTTPS"}
        assert container[probe]["httpGet"] == expected


def test_kube_prometheus_stack_component_labels_what_that_operator_selects() -> None:
    objects = kustomize(OVERLAYS / "kube-prometheus-stack")
    selected = [o for o in objects if o["kind"] in {"ServiceMonitor", "Probe", "PrometheusRule"}]
    assert len(selected) == 3
    for obj in selected:
        assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack", obj["kind"]
    # kube-prometheus' rule selector keeps working: the thresholds' labels are all there.
    rule = only(objects, "PrometheusRule")
    assert thresholds.load()["kubernetes"]["labels"].items() <= rule["metadata"]["labels"].items()
    # Only those three: the workload keeps the base's labels.
    assert "release" not in only(objects, "Deployment")["metadata"]["labels"]


def shard_argument(container: dict[str, Any]) -> str:
    (argument,) = [a for a in container["args"] if a.startswith("--shard=")]
    return str(argument.removeprefix("--shard="))


def test_sharded_variant_gives_each_replica_its_ordinal_as_shard() -> None:
    objects = kustomize(OVERLAYS / "sharded")
    assert not [o for o in objects if o["kind"] == "Deployment"]
    statefulset = only(objects, "StatefulSet")
    replicas = statefulset["spec"]["replicas"]
    assert replicas > 1
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    (index,) = [e for e in container["env"] if e["name"] == "POD_INDEX"]
    label = "metadata.labels['apps.kubernetes.io/pod-index']"  # set by the controller
    assert index["valueFrom"]["fieldRef"]["fieldPath"] == label
    # The kubelet substitutes $(POD_INDEX); pod i then parses as shard i of `replicas`.
    template = shard_argument(container)
    assert "$(POD_INDEX)" in template
    shards = [parse_shard(template.replace("$(POD_INDEX)", str(i))) for i in range(replicas)]
    assert shards == [Shard(i, replicas) for i in range(replicas)]
    names = [t["name"] for t in yaml.safe_load(configmap_text())["targets"]]
    names += [f"redis-{n}.cache.svc:6379" for n in range(200)]
    owners = [[i for i in range(replicas) if in_shard(name, shards[i])] for name in names]
    assert all(len(owner) == 1 for owner in owners)  # every target, exactly one replica


def test_sharded_variant_is_scraped_once_per_pod_by_one_monitor() -> None:
    objects = kustomize(OVERLAYS / "sharded")
    statefulset, service = only(objects, "StatefulSet"), only(objects, "Service")
    pod_labels = statefulset["spec"]["template"]["metadata"]["labels"]
    # Headless and the StatefulSet's service: its endpoints are the pods, one each.
    assert service["spec"]["clusterIP"] == "None"
    assert statefulset["spec"]["serviceName"] == service["metadata"]["name"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert statefulset["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    monitors = [o for o in objects if o["kind"] in {"ServiceMonitor", "PodMonitor"}]
    metrics = [
        monitor
        for monitor in monitors
        if any(e.get("path") == "/metrics" for e in monitor["spec"].get("endpoints", []))
        or monitor["kind"] == "PodMonitor"
    ]
    (monitor,) = metrics  # a second one would scrape every pod twice
    assert monitor["kind"] == "ServiceMonitor"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["honorLabels"] is True and endpoint["port"] == "metrics"
    services = [o for o in objects if o["kind"] == "Service"]
    assert len(services) == 1  # no second Service for the monitor to find the pods through
