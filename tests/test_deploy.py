"""Shipping: the Dockerfile and the wheel it builds, the Kubernetes manifests, the compose
file, the Prometheus scrape configs and the Alertmanager example, each checked for what it
must hold and, where a real tool exists here (hadolint, promtool, amtool), by that tool."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import venv
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from cachescope import __version__
from cachescope.rules import render, thresholds
from servers import ROOT, Exposition, RedisServer, free_port, require_binary, wait_for

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return str(reply.read().decode())


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- the Dockerfile ----------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = [[]]
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), arguments.strip()))
    return stages[1:]


def instruction(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [arguments for kind, arguments in stage if kind == name]


def test_dockerfile_is_clean_under_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "style", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_image_is_slim_non_root_and_runs_the_console_script() -> None:
    build, runtime = dockerfile_stages()
    assert any("pip wheel --no-deps" in run for run in instruction(build, "RUN"))
    # The base is an argument (tests/test_container.py builds without a registry); its default
    # stays the official slim image.
    assert instruction(runtime, "FROM")[0] == "${BASE_IMAGE}"
    assert "BASE_IMAGE=python:${PYTHON_VERSION}-slim" in (ROOT / "Dockerfile").read_text()
    # No build tools in the final image: it only copies the virtual environment.
    assert not any(re.search(r"pip |apt-get|apk ", run) for run in instruction(runtime, "RUN"))
    assert instruction(runtime, "COPY") == ["--from=build /opt/cachescope /opt/cachescope"]
    user = instruction(runtime, "USER")[-1]
    assert user.split(":")[0].isdigit() and int(user.split(":")[0]) >= 1000
    assert instruction(runtime, "EXPOSE") == ["9808"]
    assert instruction(runtime, "HEALTHCHECK")[0].endswith('CMD ["cachescope", "healthcheck"]')
    assert json.loads(instruction(runtime, "ENTRYPOINT")[0]) == ["cachescope", "serve"]
    labels = " ".join(instruction(runtime, "LABEL"))
    for key in ("title", "description", "version", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels


def dockerfile_build_context(destination: Path) -> Path:
    """What the Dockerfile's build stage copies, minus what .dockerignore leaves out."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, destination / name)
    ignored = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    shutil.copytree(ROOT / "exporter", destination / "exporter", ignore=ignored)
    return destination


@pytest.fixture(scope="module")
def image_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel the Dockerfile builds, installed into a fresh venv as its build stage does."""
    base = tmp_path_factory.mktemp("image")
    (base / "src").mkdir()
    source = dockerfile_build_context(base / "src")
    wheels = base / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--wheel-dir", wheels, source],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("cachescope-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"cachescope/rules/thresholds.yml", "cachescope/py.typed"} <= names
    assert not any(name.startswith("tests/") for name in names)
    environment = base / "venv"
    venv.create(environment, with_pip=True)
    pip = [environment / "bin" / "python", "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--disable-pip-version-check", wheel], check=True, capture_output=True)
    return environment


def test_wheel_in_a_fresh_venv_reports_its_version(image_venv: Path) -> None:
    result = subprocess.run(
        [image_venv / "bin" / "cachescope", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"cachescope, version {__version__}"
    where = subprocess.run(
        [image_venv / "bin" / "python", "-c", "import cachescope; print(cachescope.__file__)"],
        capture_output=True,
        text=True,
        cwd=image_venv,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},  # a developer's own
    )
    assert where.stdout.startswith(str(image_venv))  # the wheel, not the source tree


def test_wheel_serves_as_the_image_entrypoint_does(
    image_venv: Path, redis_server: RedisServer, tmp_path: Path
) -> None:
    _, runtime = dockerfile_stages()
    entrypoint = json.loads(instruction(runtime, "ENTRYPOINT")[0])
    port = free_port()
    # The image's CMD listens on :9808; here loopback and a free port.
    command = [str(image_venv / "bin" / entrypoint[0]), *entrypoint[1:]]
    command += ["--web.listen-address", f"127.0.0.1:{port}", "--target", redis_server.uri]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_get(f"{base}/-/ready"), 20, "the wheel's cachescope serve")
        metrics = Exposition(http_get(f"{base}/metrics"))
        assert metrics.value("redis_up", instance=f"127.0.0.1:{redis_server.port}") == 1
        # The image's HEALTHCHECK command itself, run by the venv's python.
        check = json.loads(instruction(runtime, "HEALTHCHECK")[0].split(" CMD ", 1)[1])
        # Outside a container the exporter is not PID 1: point it at the process, which
        # tells it the port.
        check = [str(image_venv / "bin" / check[0]), *check[1:], "--pid", str(proc.pid)]
        assert subprocess.run(check, timeout=10).returncode == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


# --- Kubernetes --------------------------------------------------------------------------


def manifests() -> dict[str, dict[str, Any]]:
    """Kind -> object, for every resource the kustomization lists."""
    kustomization = load_yaml(KUBERNETES / "kustomization.yaml")
    objects = {}
    for resource in kustomization["resources"]:
        document = load_yaml(KUBERNETES / resource)
        name = document["kind"] if document["kind"] != "ConfigMap" else document["metadata"]["name"]
        objects[name] = document
    return objects


def test_kustomization_lists_every_manifest_and_sets_namespace_and_labels() -> None:
    kustomization = load_yaml(KUBERNETES / "kustomization.yaml")
    listed = set(kustomization["resources"])
    assert listed == {path.name for path in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert kustomization["namespace"] == "monitoring"
    # `labels`, not the deprecated commonLabels (kustomize warns on it).
    assert kustomization["labels"] == [
        {"pairs": {"app.kubernetes.io/name": "cachescope"}, "includeSelectors": True}
    ]
    assert {"Deployment", "Service", "ServiceMonitor", "Probe", "PrometheusRule"} <= set(
        manifests()
    )


def test_deployment_runs_the_image_non_root_with_probes_and_secret_credentials() -> None:
    deployment = manifests()["Deployment"]
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["image"].startswith("cachescope:")
    assert container["ports"] == [{"name": "metrics", "containerPort": 9808}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "metrics"}
    assert spec["securityContext"]["runAsNonRoot"] is True
    _, runtime = dockerfile_stages()
    assert spec["securityContext"]["runAsUser"] == int(
        instruction(runtime, "USER")[-1].split(":")[0]
    )
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    assert volumes["credentials"]["secret"]["secretName"] == "cachescope-credentials"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    mount = container["volumeMounts"][0]["mountPath"]
    assert f"--config.file={mount}/cachescope.yml" in container["args"]
    assert "memory" in container["resources"]["limits"]


def kubelet_secret_volume(directory: Path, key: str, value: str) -> Path:
    """A Secret volume as the kubelet lays it out: each key a symlink through ..data."""
    data = directory / "..2026_01_01_00_00_00.000000000"
    data.mkdir(parents=True)
    (data / key).write_text(value)
    (directory / "..data").symlink_to(data.name)
    (directory / key).symlink_to(f"..data/{key}")
    return directory


def test_configmap_holds_a_valid_cachescope_config(tmp_path: Path) -> None:
    config = manifests()["cachescope-config"]["data"]["cachescope.yml"]
    (mount,) = [
        m["mountPath"]
        for m in manifests()["Deployment"]["spec"]["template"]["spec"]["containers"][0][
            "volumeMounts"
        ]
        if m["name"] == "credentials"
    ]
    secrets = kubelet_secret_volume(tmp_path / "secrets", "redis-password", "from-the-secret")
    (tmp_path / "cachescope.yml").write_text(config.replace(mount, str(secrets)))
    result = subprocess.run(
        [sys.executable, "-m", "cachescope", "config", "check", str(tmp_path / "cachescope.yml")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "2 targets, 1 allow rules: OK" in result.stdout


def test_service_monitor_and_probe_reach_the_exporter_the_right_way() -> None:
    objects = manifests()
    service, deployment = objects["Service"], objects["Deployment"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9808, "targetPort": "metrics"}]
    monitor = objects["ServiceMonitor"]
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    # The exporter sets instance to each target's name; Prometheus must keep it.
    assert endpoint["honorLabels"] is True
    assert (endpoint["port"], endpoint["path"]) == ("metrics", "/metrics")
    probe = objects["Probe"]["spec"]
    assert probe["prober"]["path"] == "/scrape"
    namespace = load_yaml(KUBERNETES / "kustomization.yaml")["namespace"]
    assert probe["prober"]["url"] == f"{service['metadata']['name']}.{namespace}.svc:9808"
    config = objects["cachescope-config"]["data"]["cachescope.yml"]
    for target in probe["targets"]["staticConfig"]["static"]:
        assert target in config  # /scrape reaches only configured or allowed targets


def test_prometheus_rule_is_the_render_of_the_thresholds() -> None:
    text = (KUBERNETES / "prometheusrule.yaml").read_text()
    expected = render.to_yaml(render.prometheus_rule(thresholds.load()))
    assert text == expected, "run: cachescope rules render --format prometheus-operator --output -"
    assert text == (ROOT / "rules/kubernetes/prometheusrule.yml").read_text()


# --- docker compose ----------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return dict(load_yaml(ROOT / "docker-compose.yml")["services"])


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path (relative to the repository) of a service's volumes."""
    found = {}
    for volume in service.get("volumes", []):
        host, container = volume.split(":")[:2]
        if host.startswith("./"):  # not a named volume (tests/test_deploy_compose.py)
            found[container] = host.removeprefix("./")
    return found


def test_compose_runs_the_whole_path_with_rules_and_dashboards_mounted() -> None:
    services = compose()
    assert set(services) == {
        "redis",
        "redis-replica",
        "memcached",
        "cachescope",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    for name, service in services.items():
        assert "image" in service, name
        for host in mounts(service).values():
            assert (ROOT / host).exists(), f"{name} mounts missing {host}"
    cachescope = services["cachescope"]
    assert cachescope["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert "--target=redis://redis-replica:6379" in cachescope["command"]
    assert "--replicaof" in services["redis-replica"]["command"]
    for name in ("cachescope", "prometheus", "alertmanager", "grafana"):
        assert all(port.startswith("127.0.0.1:") for port in services[name]["ports"]), name
    prometheus = mounts(services["prometheus"])
    assert prometheus["/etc/prometheus/rules"] == "rules"
    assert prometheus["/etc/prometheus/prometheus.yml"] == "deploy/compose/prometheus.yml"
    grafana = mounts(services["grafana"])
    assert grafana["/var/lib/grafana/dashboards"] == "grafana/dashboards"
    assert mounts(services["alertmanager"])["/etc/alertmanager/alertmanager.yml"] == (
        "deploy/alertmanager/alertmanager.yml"
    )


def test_compose_prometheus_loads_the_rules_and_talks_to_the_compose_services() -> None:
    config = load_yaml(DEPLOY / "compose/prometheus.yml")
    (pattern,) = config["rule_files"]
    assert pattern.startswith("/etc/prometheus/rules/")
    assert sorted(p.name for p in (ROOT / "rules").glob(Path(pattern).name)) == sorted(render.FILES)
    (job,) = config["scrape_configs"]
    assert job["honor_labels"] is True
    assert job["static_configs"] == [{"targets": ["cachescope:9808"]}]
    alertmanagers = config["alerting"]["alertmanagers"][0]["static_configs"]
    assert alertmanagers == [{"targets": ["alertmanager:9093"]}]


def test_compose_grafana_provisions_prometheus_and_the_dashboards() -> None:
    grafana = mounts(compose()["grafana"])
    provisioning = ROOT / grafana["/etc/grafana/provisioning"]
    assert provisioning == ROOT / "grafana/provisioning"
    sources = load_yaml(provisioning / "datasources/prometheus.yml")["datasources"]
    assert ("prometheus", "http://prometheus:9090") in {(s["type"], s["url"]) for s in sources}
    (provider,) = load_yaml(provisioning / "dashboards/cachescope.yml")["providers"]
    assert provider["options"]["path"] in grafana  # where compose mounts grafana/dashboards
    assert list((ROOT / grafana[provider["options"]["path"]]).glob("*.json"))


# --- Prometheus and Alertmanager configs, checked by their own tools ---------------------


def promtool_check(config: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [require_binary("promtool"), "check", "config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_scrape_configs_pass_promtool(tmp_path: Path) -> None:
    config = load_yaml(DEPLOY / "prometheus/scrape-configs.yml")
    targets = tmp_path / "redis-targets.yml"
    targets.write_text(yaml.safe_dump([{"targets": ["redis://cache-a.internal:6379"]}]))
    for job in config["scrape_configs"]:  # the file_sd files exist on a real server only
        for sd in job.get("file_sd_configs", []):
            sd["files"] = [str(targets)]
    promtool_check(config, tmp_path)


def test_compose_prometheus_config_passes_promtool_with_the_rendered_rules(tmp_path: Path) -> None:
    config = load_yaml(DEPLOY / "compose/prometheus.yml")
    config["rule_files"] = [str(ROOT / "rules" / "*.rules.yml")]  # where compose mounts them
    promtool_check(config, tmp_path)


def test_hashmod_shards_split_the_targets_across_the_exporter_replicas() -> None:
    jobs = load_yaml(DEPLOY / "prometheus/scrape-configs.yml")["scrape_configs"]
    shards = [job for job in jobs if job["job_name"].startswith("redis-shard-")]
    moduli, kept, replicas = set(), [], set()
    for job in shards:
        steps = job["relabel_configs"]
        hashmod = next(s for s in steps if s.get("action") == "hashmod")
        keep = next(s for s in steps if s.get("action") == "keep")
        assert keep["source_labels"] == [hashmod["target_label"]]
        moduli.add(hashmod["modulus"])
        kept.append(keep["regex"])
        replicas.add(steps[-1]["replacement"])
        assert job["metrics_path"] == "/scrape"
    assert moduli == {len(shards)} and len(shards) > 1
    assert sorted(kept) == [str(n) for n in range(len(shards))]  # every target, exactly once
    assert len(replicas) == len(shards)


def test_alertmanager_example_passes_amtool_and_routes_by_severity() -> None:
    amtool = require_binary("amtool")
    path = str(DEPLOY / "alertmanager/alertmanager.yml")
    result = subprocess.run([amtool, "check-config", path], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

    def receiver(*labels: str) -> str:
        command = [amtool, "config", "routes", "test", f"--config.file={path}", *labels]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()

    assert receiver("alertname=RedisDown", "severity=critical") == "cache-oncall"
    assert receiver("alertname=RedisHitRatioLow", "severity=warning") == "cache-team"
    assert receiver("alertname=RedisRestarted", "severity=info") == "cache-team"
    config = load_yaml(Path(path))
    assert "instance" in config["route"]["group_by"]
    down = config["inhibit_rules"][0]
    assert down["source_matchers"] == ['alertname=~"RedisDown|MemcachedDown"']
    assert down["equal"] == ["instance"]
