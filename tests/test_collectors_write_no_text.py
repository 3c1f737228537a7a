"""Collectors hand values to the exposition layer, never text.

The rule, checked on the source of every module of redis/, memcached/ and keyspace/:

1. No string literal, f-string, %-template or str.format template has the shape of
   exposition text (each replacement field counted as one value): a label set's close
   (`"}`), a name or label set followed by a value (`{name}{labels} {value}`, a line
   ending in `{...} value\\n`), a bare brace (`"{"`, `"}"`), or a label set left open for
   more labels (`f"{name}{labels},"`). Docstrings, which show sample output, are exempt.
2. No module reaches into a MetricSet's or a family's text (`lines`, `prefix`, `_lines`,
   `_plain`, `_prefix`, `_about`): only exposition.py writes names, labels and lines.

A collector obtains a family with `metrics.family(name, type, help)` and adds values to
it, with labels as pairs or as a label set rendered once by `metrics.labels(...)`.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "exporter" / "cachescope"
COLLECTORS = sorted(
    path
    for folder in ("redis", "memcached", "keyspace")
    for path in (PACKAGE / folder).glob("*.py")
)
_TEXT_SHAPES = re.compile(
    r'"\}'  # the end of a label set
    r"|\{\} \{\}"  # name or labels, a space, a value
    r"|\{\} \S*\n$"  # a sample line's end: a value and a newline
    r"|^[{}],?$"  # a brace on its own, to be glued to labels
    r"|\{\},$"  # labels left open for one more
    r"|\} \S*\n$"  # a label set closed, then a value and a newline
)
# A %-format conversion specifier: `%s`, `%(name)s`, `%-8.3f`, ...
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?[a-zA-Z]")
_TEXT_ATTRIBUTES = {"lines", "prefix", "_lines", "_plain", "_prefix", "_about"}


def _template(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's, a `"..." % x`'s or a `"...".format(x)`'s
    with each replacement field as '{}'."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = node.values
        return "".join(str(p.value) if isinstance(p, ast.Constant) else "{}" for p in parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        text = _literal(node.left)
        return None if text is None else _from_percent(text)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        text = _literal(node.func.value)
        if text is not None and node.func.attr in ("format", "format_map"):
            return _from_format(text)
    return None


def _literal(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _from_percent(text: str) -> str:
    """A %-template with each conversion as '{}' and '%%' as '%'."""
    return "%".join(_PERCENT_FIELD.sub("{}", part) for part in text.split("%%"))


def _from_format(text: str) -> str:
    """A str.format template with each replacement field as '{}' and '{{', '}}' undone."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:  # not a valid template: judged as the literal it is
        return text
    return "".join(literal + ("{}" if field is not None else "") for literal, field, _, _ in parsed)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr):
                found.add(id(first.value))
    return found


def text_writing(source: str) -> list[str]:
    """Where `source` writes exposition text itself, as 'line: what'."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in docstrings:
            continue
        template = _template(node)
        if template is not None and _TEXT_SHAPES.search(template):
            found.append(f"{getattr(node, 'lineno', 0)}: builds {template!r}")
        if isinstance(node, ast.Attribute) and node.attr in _TEXT_ATTRIBUTES:
            found.append(f"{node.lineno}: reaches into .{node.attr}")
    return found


@pytest.mark.parametrize("path", COLLECTORS, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_collector_module_writes_no_exposition_text(path: Path) -> None:
    assert text_writing(path.read_text()) == []


def test_the_collector_packages_are_all_checked() -> None:
    names = {f"{path.parent.name}/{path.name}" for path in COLLECTORS}
    assert {"redis/sections.py", "redis/commandstats.py", "memcached/sections.py"} <= names
    assert {"keyspace/sampler.py", "keyspace/streams.py"} <= names


@pytest.mark.parametrize(
    "source",
    [
        'lines.append(f"redis_db_keys{rendered} {keys}\\n")',
        'lines += [f"redis_errors_total{prefix}{labels[k]} 0\\n" for k in kinds]',
        'opened = f"{name}{rendered[:-1]},"',
        "tails = f'quantile=\"{q}\"}} {text}\\n'",
        "ERR = {kind: f'err=\"{kind}\"}}' for kind in KINDS}",
        'text = "{" + joined + "}"',
        "family = metrics.lines(name, type_, help_)",
        "start = metrics.prefix",
        'line = "%s %s\\n" % (series, value)',
        'line = "%(name)s{%(labels)s} %(value)g\\n" % fields',
        'line = "{0}{{{1}}} {2}\\n".format(name, labels, value)',
        'line = "{name} {value}\\n".format_map(fields)',
        'line = f"{name}{{{labels}}} {value}\\n"',
    ],
)
def test_the_rule_catches_hand_written_lines(source: str) -> None:
    assert text_writing(source), source


def test_the_rule_lets_values_and_docstrings_through() -> None:
    source = (
        '"""redis_db_keys{db="db0"} 1"""\n'
        'keys = metrics.family("redis_db_keys", GAUGE, "Keys in the database.")\n'
        'keys.add_text(count, metrics.labels((("db", key),)))\n'
        'log.warning("target=%s error=%s", name, f"{kind}: {message}")\n'
        'message = "%s of %d keys sampled in %.3fs" % (name, count, took)\n'
        'message = "{} (db {}), {:.1%} done".format(name, db, share)\n'
        'hint = "100%% of {maxmemory}" % ()\n'
    )
    assert text_writing(source) == []
