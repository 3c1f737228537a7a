"""Review of issue 18: where the layout docs, the names and the guards do not hold.

Each test is a break found from outside, kept as a strict xfail until the exporter is fixed.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import re
import socket
from pathlib import Path

import pytest
from livecheck import LiveInUnitTest, forbid_live
from test_collectors_write_no_text import text_writing
from test_layout import import_graph

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "exporter" / "cachescope"
FLOW = ("config", "web", "scrape", "workers", "redis", "memcached", "keyspace", "exposition")


def _resolves(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except ModuleNotFoundError:
        return False


def test_the_architecture_names_only_modules_that_import() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    dotted = set(re.findall(r"\bcachescope(?:\.[a-z_]+)+", text))
    assert sorted(d for d in dotted if not _resolves(d)) == []


def test_module_docstrings_and_comments_name_only_modules_that_exist() -> None:
    names = {path.name for path in [*PACKAGE.rglob("*.py"), *(ROOT / "tests").glob("*.py")]}
    stale = sorted(
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in PACKAGE.rglob("*.py")
        for name in set(re.findall(r"\b([a-z_]+\.py)\b", path.read_text()))
        if name not in names
    )
    assert stale == []


def test_the_docs_name_every_module_of_the_flow() -> None:
    readme = (ROOT / "README.md").read_text()
    text = (ROOT / "docs" / "architecture.md").read_text() + readme[readme.index("## Layout") :]
    unnamed = sorted(
        path.relative_to(PACKAGE).as_posix()
        for package in FLOW
        for path in (PACKAGE / package).glob("*.py")
        if path.name != "__init__.py" and path.name not in text
    )
    assert unnamed == []


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 else module


def test_the_flow_packages_do_not_import_each_other_both_ways() -> None:
    edges = {
        (_package(a), _package(b))
        for a, targets in import_graph().items()
        for b in targets
        if _package(a) != _package(b)
    }
    both = sorted(
        f"{a} <-> {b}" for a, b in edges if a < b and (b, a) in edges and a in FLOW and b in FLOW
    )
    assert both == []


def test_max_connections_names_one_idea() -> None:
    from cachescope.fleet import Limits
    from cachescope.web.front import Front

    kept = "max_connections" in {field.name for field in dataclasses.fields(Limits)}
    http = "max_connections" in inspect.signature(Front.__init__).parameters
    assert not (kept and http)


def test_config_records_are_built_with_keywords_only() -> None:
    from cachescope.config.credentials import Credentials, TLSConfig
    from cachescope.config.keyspace import KeyspaceConfig
    from cachescope.config.records import DiscoveryConfig, TargetConfig

    records = (DiscoveryConfig, TargetConfig, Credentials, TLSConfig, KeyspaceConfig)
    positional = sorted(
        f"{path.relative_to(PACKAGE)}:{node.lineno}: {ast.unparse(node.func)}"
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and ast.unparse(node.func) in {r.__name__ for r in records}
        and any(not isinstance(arg, ast.Starred) for arg in node.args)
    )
    not_kw_only = sorted(
        r.__name__ for r in records if not all(f.kw_only for f in dataclasses.fields(r))
    )
    assert positional == [] and not_kw_only == []


@pytest.mark.parametrize(
    "source",
    [
        'line = "%s{%s} %s\\n" % (name, labels, value)',
        'line = "{}{{{}}} {}\\n".format(name, labels, value)',
    ],
)
def test_the_collector_rule_catches_formatted_lines(source: str) -> None:
    assert text_writing(source), source


@pytest.mark.parametrize("name", ["sendto", "sendmsg", "socketpair", "socket"])
def test_the_unit_guard_refuses_every_socket_use(name: str) -> None:
    """A new socket or pair is refused outright; sending on one is replaced too."""
    with forbid_live([]):
        if name in ("socketpair", "socket"):
            with pytest.raises(LiveInUnitTest):
                getattr(socket, name)()
        else:
            assert getattr(socket.socket, name) is not socket.socket.send
