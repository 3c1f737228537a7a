"""Records are types, and one idea has one name from flag to field (STYLE.md 13 and 14).

The rule, for the scrape-path modules:
1. A fixed-shape tuple given a name (`Outcome = tuple[float, str, int]`, or a
   union holding one) is a record in disguise; it must be a NamedTuple or a
   dataclass. A variable-length `tuple[T, ...]` is a sequence, not a record.
   Only an alias that stays inside its module may be exempted, by name and
   with a reason, in EXEMPT; one imported by another module never is.
2. A record is read by field, never by position: no constant index or slice
   (`outcome[3]`, `job[:2]`) on a name that holds a record. A name holds a
   record when it is the snake_case of a record type (`outcome`, `job`,
   `endpoint_key`) or is annotated with one (`reply: Answer`).
3. Option records are built with keywords only.
4. A serve flag, its click destination and the Limits field it sets say the same name.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[1] / "exporter" / "cachescope"
SCRAPE_PATH = [  # a request's path to the collectors and back, worker processes included
    path
    for sub in ("web", "scrape", "workers", "redis", "memcached", "keyspace", "exposition")
    for path in sorted((PACKAGE / sub).glob("*.py"))
] + [PACKAGE / "fleet.py", PACKAGE / "transport.py"]
# Module-local aliases tolerated, each with why; none may be imported elsewhere.
EXEMPT = {
    # The hottest loop of a Redis scrape, one per command: a tuple unpacked, never indexed.
    ("redis/commandstats.py", "Stats"): "per-command hot loop, unpacked in place",
    ("redis/commandstats.py", "Totals"): "per-command hot loop, unpacked in place",
    # A queue entry of the HTTP front, unpacked where it is taken off the queue.
    ("web/front.py", "Queued"): "one module, unpacked where dequeued",
    # Rows of a literal table of metric definitions, read once at import.
    ("memcached/fields.py", "_Row"): "a literal definitions table, unpacked at import",
}


def _module(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _fixed_tuple(node: ast.expr) -> bool:
    """Whether an annotation expression is, or holds in a union, a fixed-shape tuple."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _fixed_tuple(node.left) or _fixed_tuple(node.right)
    if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
        return False
    if node.value.id not in ("tuple", "Tuple"):
        return False
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    variable = any(isinstance(item, ast.Constant) and item.value is Ellipsis for item in items)
    return not variable and len(items) >= 2


def tuple_aliases(path: Path) -> list[str]:
    """Module-level names bound to a fixed-shape tuple type."""
    found = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and _fixed_tuple(value):
            found.append(target.id)
    return found


def record_types(paths: list[Path]) -> set[str]:
    """Record types of the scrape path: tuple aliases, NamedTuples, dataclasses."""
    names: set[str] = set()
    for path in paths:
        names.update(tuple_aliases(path))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {ast.unparse(base) for base in node.bases}
            decorators = {ast.unparse(d).split("(")[0] for d in node.decorator_list}
            if bases & {"NamedTuple", "typing.NamedTuple"} or decorators & {
                "dataclass",
                "dataclasses.dataclass",
            }:
                names.add(node.name)
    return names


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _constant_index(node: ast.expr) -> bool:
    def constant(part: ast.expr | None) -> bool:
        if isinstance(part, ast.UnaryOp) and isinstance(part.op, ast.USub):
            part = part.operand
        return part is None or (isinstance(part, ast.Constant) and isinstance(part.value, int))

    if isinstance(node, ast.Slice):
        return constant(node.lower) and constant(node.upper) and constant(node.step)
    return node is not None and constant(node)


def _holder(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def index_reads(path: Path, records: set[str]) -> list[str]:
    """`name[<constant>]` where `name` holds a record, as 'line: source'."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    holders = {_snake(record) for record in records}
    for node in ast.walk(tree):  # names annotated with a record type, anywhere in the module
        annotated: list[tuple[ast.expr, ast.expr | None]] = []
        if isinstance(node, ast.arg):
            annotated.append((ast.Name(node.arg), node.annotation))
        elif isinstance(node, ast.AnnAssign):
            annotated.append((node.target, node.annotation))
        for target, annotation in annotated:
            if annotation is None or _holder(target) is None:
                continue
            words = set(re.findall(r"\w+", ast.unparse(annotation)))
            outer = ast.unparse(annotation).split("[")[0]
            if words & records and outer not in ("list", "dict", "set", "deque", "Iterable"):
                holders.add(_holder(target) or "")
    found = []
    for node in ast.walk(tree):
        loaded = isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
        if loaded and _holder(node.value) in holders and _constant_index(node.slice):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_tuple_aliases_are_not_used_as_records_in_the_scrape_path() -> None:
    imported = _imported_names()
    offenders = []
    for path in SCRAPE_PATH:
        for name in tuple_aliases(path):
            key = (_module(path), name)
            if key not in EXEMPT or (name, _dotted(path)) in imported:
                offenders.append(f"{key[0]}: {name}")
    assert offenders == [], "make these NamedTuples or dataclasses (slots=True)"


def test_exemptions_stay_inside_their_module() -> None:
    imported = _imported_names()
    for module, name in EXEMPT:
        dotted = _dotted(PACKAGE / module)
        assert (name, dotted) not in imported, f"{name} from {module} crosses a module boundary"


def test_records_are_read_by_field_not_by_position() -> None:
    records = record_types(SCRAPE_PATH)
    offenders = [
        f"{_module(path)}:{read}" for path in SCRAPE_PATH for read in index_reads(path, records)
    ]
    assert offenders == []


def test_the_rule_catches_an_index_read_and_a_tuple_alias(tmp_path: Path) -> None:
    source = tmp_path / "example.py"
    source.write_text(
        "Job = tuple[str, int]\n"
        "Names = tuple[str, ...]\n"
        "def f(job: Job, mine: 'Reply | None', words: list[str]) -> int:\n"
        "    return job[1] + mine[0][:2] + len(words[0])\n"
    )
    assert tuple_aliases(source) == ["Job"]
    assert index_reads(source, {"Job", "Reply"}) == ["4: job[1]", "4: mine[0]"]


def _dotted(path: Path) -> str:
    return "cachescope." + _module(path).removesuffix(".py").replace("/", ".")


def _imported_names() -> set[tuple[str, str]]:
    """(name, module) for every `from cachescope.x import name` in the package."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.update((alias.name, node.module) for alias in node.names)
    return found


def test_option_records_take_keywords_only() -> None:
    from cachescope.config.flags import TargetFlags
    from cachescope.fleet import Limits

    for record in (Limits, TargetFlags):
        assert all(field.kw_only for field in dataclasses.fields(record)), record.__name__
    with pytest.raises(TypeError):
        Limits(32, 20_000)  # type: ignore[misc]


def test_serve_flags_their_destinations_and_the_limits_share_one_name() -> None:
    from cachescope.cli import serve
    from cachescope.fleet import Limits

    dests = {}
    for param in serve.params:
        flag = param.opts[0].lstrip("-")  # the others are the peers' aliases (docs/migrating.md)
        dests[param.name] = flag
        assert param.name == flag.replace(".", "_").replace("-", "_"), flag
    for field in dataclasses.fields(Limits):
        assert field.name in dests or f"limits_{field.name}" in dests, field.name
