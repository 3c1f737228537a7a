"""Review of issue 18: positional tuple records that still cross module and process boundaries.

tests/test_records.py looks only at module-level names bound to a bare `tuple[...]` and at
constant indexes on names spelled like a record type. These tests look where it does not:
fixed-shape tuples inside an alias (`list[tuple[A, B]]`), in a function's return type, in a
record's field, and positional reads (`x[i][0]`, `Outcome._make(fields)`).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[1] / "exporter" / "cachescope"
SCRAPE_PATH = [
    path
    for sub in ("web", "scrape", "workers", "redis", "memcached", "keyspace", "exposition")
    for path in sorted((PACKAGE / sub).glob("*.py"))
] + [PACKAGE / "fleet.py", PACKAGE / "transport.py"]


def _module(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def holds_fixed_tuple(node: ast.expr | None) -> bool:
    """Whether an annotation holds, at any depth, a `tuple[A, B, ...]` of a fixed shape."""
    if node is None:
        return False
    for sub in ast.walk(node):
        if isinstance(sub, ast.Subscript) and ast.unparse(sub.value) in ("tuple", "Tuple"):
            items = sub.slice.elts if isinstance(sub.slice, ast.Tuple) else [sub.slice]
            variadic = any(isinstance(i, ast.Constant) and i.value is Ellipsis for i in items)
            if not variadic and len(items) >= 2:
                return True
    return False


@functools.cache
def tuple_returning_functions(path: Path) -> set[str]:
    """Functions and methods whose return type holds a fixed-shape tuple."""
    return {
        node.name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef) and holds_fixed_tuple(node.returns)
    }


@functools.cache
def called_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else ast.unparse(func))
    return names


# Calls matched by name only: state.py's `metrics.families()` is MetricSet's, not Joined's.
NAME_CLASHES = {("joined.py", "families", "state.py")}
# Label pairs are the text format's own (name, value) shape, not a record of ours.
PAIRS = {"Labels"}


def test_the_detectors_see_a_tuple_inside_a_list_and_a_return_type(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f() -> list[tuple[str, float]]: ...\ndef g() -> tuple[int, ...]: ...\n")
    assert tuple_returning_functions(source) == {"f"}


def test_no_function_returns_a_tuple_record_to_another_module() -> None:
    defined = {path: tuple_returning_functions(path) for path in SCRAPE_PATH}
    offenders = sorted(
        f"{_module(where)}:{name} used in {_module(user)}"
        for where, names in defined.items()
        for user in SCRAPE_PATH
        if user != where
        for name in names & called_names(user)
        if not name.startswith("_") and (where.name, name, user.name) not in NAME_CLASHES
    )
    assert offenders == []


def test_the_offenders_the_review_found_return_records_now() -> None:
    """The concrete offenders the review named, so a reader can check each was fixed."""
    found = {_module(path): tuple_returning_functions(path) for path in SCRAPE_PATH}
    assert not {"parse_slowlog_entry", "parse_latency_latest"} & found["redis/parse.py"]
    assert not {"plain", "scrape_many"} & found["scrape/state.py"]
    assert not {"families", "family_sizes"} & found["exposition/joined.py"]
    assert not {"split_slabs"} & found["memcached/parse.py"]
    assert not {"recv_frame"} & found["workers/frames.py"]


def test_no_alias_holding_a_tuple_record_is_imported_by_another_module() -> None:
    aliases: dict[str, str] = {}
    for path in SCRAPE_PATH:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and holds_fixed_tuple(node.value)
                and node.targets[0].id not in PAIRS
            ):
                aliases[node.targets[0].id] = "cachescope." + _module(path)[:-3].replace("/", ".")
    imported = sorted(
        f"{name} from {module}"
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if (module := node.module or "") and aliases.get(name := alias.name) == module
    )
    assert imported == []


def test_no_record_field_crossing_the_worker_boundary_is_a_positional_tuple() -> None:
    tree = ast.parse((PACKAGE / "workers" / "frames.py").read_text(encoding="utf-8"))
    fields = [
        f"{cls.name}.{ast.unparse(item.target)}"
        for cls in tree.body
        if isinstance(cls, ast.ClassDef)
        for item in cls.body
        if isinstance(item, ast.AnnAssign) and holds_fixed_tuple(item.annotation)
    ]
    pool = (PACKAGE / "workers" / "pool.py").read_text(encoding="utf-8")
    assert fields == [] and "._make(" not in pool and "][0]" not in pool


def test_keyspace_settings_hand_records_not_pairs_to_the_sampler() -> None:
    from cachescope.config.keyspace import KeyspaceConfig

    hints = KeyspaceConfig.__annotations__
    assert not any(
        "tuple[tuple[" in str(hints[name]) for name in ("groups", "check_keys", "streams")
    )
