"""The package's layout: no import cycles, and the docs that describe the tree match it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "exporter" / "cachescope"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that `path` imports, at run time or for type checking alike."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in modules)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else base)
    return found & modules - {name}


def import_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = set(paths)
    return {name: imports(path, modules) for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_another_that_imports_it_back() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def mentioned(text: str) -> set[str]:
    """Backticked module paths: `web/front.py`, `loader.py`, `redis/`."""
    return set(re.findall(r"`([a-z_]+(?:/[a-z_]+)*(?:\.py|/))`", text))


def exists(mention: str) -> bool:
    """A mention names a module or package of the tree, whole or by its last parts."""
    if (ROOT / mention).exists():  # a path from the repository's root: `tests/x.py`
        return True
    mention = mention.rstrip("/")
    return any(
        path.relative_to(PACKAGE).as_posix().removesuffix("/__init__.py") == mention
        or path.relative_to(PACKAGE).as_posix().endswith("/" + mention)
        for path in [*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*/__init__.py")]
    )


def top_level() -> set[str]:
    """Modules and packages directly in the package, as the docs name them."""
    files = {p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    packages = {p.parent.name + "/" for p in PACKAGE.glob("*/__init__.py")}
    return files | packages


@pytest.mark.parametrize("doc", ["docs/architecture.md", "README.md"])
def test_the_docs_name_only_modules_that_exist(doc: str) -> None:
    text = (ROOT / doc).read_text()
    if doc == "README.md":
        text = text[text.index("## Layout") :]
        text = text.split("\n## ")[0]
    missing = sorted(m for m in mentioned(text) if not exists(m))
    assert missing == [], f"{doc} names modules that are not in the tree"


def test_architecture_names_every_top_level_module_and_package() -> None:
    text = (ROOT / "docs/architecture.md").read_text()
    table = text[text.index("## The tree") : text.index("## A scrape's path")]
    assert sorted(top_level() - mentioned(table)) == []


def test_architecture_lists_every_module_and_nothing_else() -> None:
    text = (ROOT / "docs/architecture.md").read_text()
    listed = set(
        re.findall(r"^- `([a-z_/]+(?:\.py|/))`: ", text[text.index("## Every module") :], re.M)
    )
    modules = {
        path.relative_to(PACKAGE).as_posix().removesuffix("__init__.py")
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).as_posix() not in ("__init__.py", "__main__.py")
    }
    assert sorted(modules - listed) == [], "modules missing from docs/architecture.md"
    assert sorted(listed - modules) == [], "docs/architecture.md lists modules that are gone"
