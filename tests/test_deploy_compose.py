"""docker-compose.yml checked for what a broken stack would show first: an image that moves
under it, a mount of a file that is not there, a port open beyond this machine, a network
or volume nobody defined, and a cachescope that is not this tree's Dockerfile."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from cachescope import __version__
from hypothesis import given
from hypothesis import strategies as st
from servers import ROOT

COMPOSE = ROOT / "docker-compose.yml"
# A tag that names a release (7.0, v2.53.0, 1.6-alpine), or a digest: never latest.
PINNED = re.compile(r"^[\w./-]+(:v?\d+(\.\d+)*([-.][\w.]+)?|@sha256:[0-9a-f]{64})$")


def load() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")))


def bind_or_named(volume: str | dict[str, Any]) -> tuple[str, str]:
    """("bind", host path) or ("volume", name) of a service's volume, short or long syntax."""
    if isinstance(volume, dict):
        kind = "bind" if volume.get("type") == "bind" else "volume"
        return kind, str(volume.get("source", ""))
    source = volume.split(":")[0]
    return ("bind" if source.startswith((".", "/", "~")) else "volume"), source


def port_problem(port: str | int | dict[str, Any]) -> str | None:
    """Why a published port is reachable beyond this machine, if it is."""
    if isinstance(port, dict):
        host = port.get("host_ip")
    else:
        parts = str(port).rsplit(":", 2)
        host = parts[0] if len(parts) == 3 else None
    return None if host == "127.0.0.1" else f"port {port!r} is not published on 127.0.0.1 only"


def names(field: list[str] | dict[str, Any] | None) -> set[str]:
    """The names of a list-or-mapping field (networks, depends_on)."""
    return set(field or [])


def service_problems(name: str, service: dict[str, Any], stack: dict[str, Any]) -> list[str]:
    """What is wrong with one service of the stack."""
    found = []
    if "image" in service and not PINNED.match(str(service["image"])):
        found.append(f"{name}: image {service['image']!r} is not pinned to a version")
    if "image" not in service and "build" not in service:
        found.append(f"{name}: neither image nor build")
    for volume in service.get("volumes", []):
        kind, source = bind_or_named(volume)
        if kind == "volume" and source not in (stack.get("volumes") or {}):
            found.append(f"{name}: volume {source!r} is not defined")
        path = (ROOT / source).resolve()
        if kind == "bind" and (not path.is_relative_to(ROOT) or not path.exists()):
            found.append(f"{name}: mounts {source!r}, not in the repository")
    for port in service.get("ports", []):
        problem = port_problem(port)
        found += [f"{name}: {problem}"] if problem else []
    for network in names(service.get("networks")) - set(stack.get("networks") or {}):
        found.append(f"{name}: network {network!r} is not defined")
    for other in names(service.get("depends_on")) - set(stack["services"]):
        found.append(f"{name}: depends on {other!r}, which is not a service")
    return found


def problems(stack: dict[str, Any]) -> list[str]:
    """Every problem of a compose document, one line each."""
    found = []
    for name, service in stack["services"].items():
        found += service_problems(name, service, stack)
    return found


def test_the_shipped_stack_has_no_problem() -> None:
    assert problems(load()) == []


def test_cachescope_is_built_from_this_trees_dockerfile_and_tagged_with_its_version() -> None:
    service = load()["services"]["cachescope"]
    build = service["build"]
    context = ROOT / build["context"]
    assert context.resolve() == ROOT
    assert (context / build["dockerfile"]).resolve() == ROOT / "Dockerfile"
    assert service["image"] == f"cachescope:{__version__}"


def breaking(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    stack = copy.deepcopy(load())
    edit(stack)
    return stack


def set_field(service: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(stack: dict[str, Any]) -> None:
        stack["services"][service][key] = value

    return edit


def add_volume(service: str, volume: Any) -> Callable[[dict[str, Any]], None]:
    def edit(stack: dict[str, Any]) -> None:
        stack["services"][service].setdefault("volumes", []).append(volume)

    return edit


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (set_field("redis", "image", "redis"), "redis: image 'redis' is not pinned"),
        (set_field("redis", "image", "redis:latest"), "is not pinned"),
        (set_field("grafana", "ports", ["3000:3000"]), "'3000:3000' is not published"),
        (set_field("grafana", "ports", ["0.0.0.0:3000:3000"]), "is not published on"),
        (set_field("grafana", "ports", [{"target": 3000, "published": 3000}]), "not published"),
        (add_volume("prometheus", "./deploy/nothing.yml:/x:ro"), "mounts './deploy/nothing.yml'"),
        (add_volume("prometheus", "/etc/passwd:/x:ro"), "'/etc/passwd', not in the repository"),
        (add_volume("prometheus", "tsdb:/prometheus"), "volume 'tsdb' is not defined"),
        (set_field("redis", "networks", ["backend"]), "network 'backend' is not defined"),
        (set_field("redis-replica", "depends_on", ["redis-primary"]), "'redis-primary'"),
    ],
)
def test_each_kind_of_broken_stack_is_named(
    edit: Callable[[dict[str, Any]], None], expected: str
) -> None:
    (problem,) = problems(breaking(edit))
    assert expected in problem


def test_the_stack_keeps_its_named_volume_defined_and_used() -> None:
    stack = load()
    used = {
        source
        for service in stack["services"].values()
        for kind, source in map(bind_or_named, service.get("volumes", []))
        if kind == "volume"
    }
    assert used and used == set(stack["volumes"])  # none undefined, none left unused


def test_long_syntax_ports_and_volumes_are_read_too() -> None:
    assert port_problem({"target": 1, "published": 2, "host_ip": "127.0.0.1"}) is None
    assert bind_or_named({"type": "bind", "source": "./rules", "target": "/r"}) == (
        "bind",
        "./rules",
    )
    assert bind_or_named({"type": "volume", "source": "data", "target": "/d"}) == (
        "volume",
        "data",
    )


@given(host=st.ip_addresses(v=4).map(str), port=st.integers(1, 65535))
def test_a_port_is_accepted_on_loopback_127_0_0_1_and_nowhere_else(host: str, port: int) -> None:
    flagged = port_problem(f"{host}:{port}:{port}") is not None
    assert flagged == (host != "127.0.0.1")
    assert port_problem(f"{port}:{port}") is not None and port_problem(port) is not None
