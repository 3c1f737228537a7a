"""Load YAML into plain data while remembering the line of every field.

Config errors must name the file, the line and the field; PyYAML's plain
`safe_load` forgets where values came from, so we walk the node tree ourselves.
Every YAML file the exporter reads comes through here, so the limits live here:
a size cap, a budget of nodes (aliases expand, a billion laughs does not), a nesting
depth, the core tags only, no duplicate keys, UTF-8 only. Anything else is a
ConfigError with file and line, never a traceback.
"""

from __future__ import annotations

import os
import stat
from typing import Any

import yaml

# Where a value sits in its document: ('targets', 2, 'timeout').
FieldPath = tuple[str | int, ...]

MAX_YAML_BYTES = 1 << 20
# Nodes built after expanding aliases: a fixed allowance plus one per byte, so a large
# plain file always fits while a few anchors cannot multiply into millions.
_NODE_ALLOWANCE = 10_000
# The composer recurses per level (two frames each); stay far from Python's limit.
_MAX_DEPTH = 64
_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + name for name in ("null", "bool", "int", "float", "str")}
_MERGE = _CORE + "merge"
_IMPLICIT_AS_TEXT = {_CORE + "timestamp", _CORE + "value"}  # plain 2024-01-01 stays text


class ConfigError(ValueError):
    """A configuration problem, located as precisely as we know."""

    def __init__(
        self, message: str, source: str = "", line: int = 0, field: str = "", column: int = 0
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.field = field
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or "<config>"
        if self.line:
            where += f":{self.line}" + (f":{self.column}" if self.column else "")
        # One wording for every YAML input: <file>:<line>: <field.path>: <what is wrong>
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


def field_name(path: FieldPath) -> str:
    """Render a path like ('targets', 2, 'timeout') as 'targets[2].timeout'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def read_regular_file(filename: str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; a ValueError says why not.

    Opened without blocking and checked with fstat, so a FIFO or /dev/zero is refused
    at once instead of hanging or filling memory.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(filename, flags)
    except OSError as exc:
        raise ValueError(exc.strerror or "unreadable") from None
    # fstat before fdopen: Python's file object refuses a directory itself, with an
    # IsADirectoryError that names the descriptor, not the file.
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError("not a regular file")
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(limit + 1)  # the file may grow after fstat
        except OSError as exc:
            raise ValueError(exc.strerror or "unreadable") from None
    if len(data) > limit:
        raise ValueError(f"larger than {_size(limit)}")
    return data


def load_yaml_file(filename: str, what: str = "config file") -> MarkedYAML:
    """Read and parse a YAML file, every problem a ConfigError naming the file."""
    try:
        data = read_regular_file(filename, MAX_YAML_BYTES)
    except ValueError as exc:
        raise ConfigError(f"cannot read {what}: {exc}", filename) from None
    return MarkedYAML(data, filename)


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit >> 10} KiB"


def _decode(data: str | bytes, source: str) -> str:
    if len(data) > MAX_YAML_BYTES:
        raise ConfigError(f"file larger than {_size(MAX_YAML_BYTES)}", source)
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError("not UTF-8 text", source, line) from None


class _Loader(yaml.SafeLoader):
    """PyYAML's safe composer, with a bound on nesting."""

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.depth = getattr(self, "depth", 0) + 1
        try:
            if self.depth > _MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise ConfigError(
                    f"nested deeper than {_MAX_DEPTH} levels", self.name, mark.line + 1
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _compose(text: str, source: str) -> yaml.Node | None:
    try:
        loader = _Loader(text)  # the reader checks the characters here already
        loader.name = source
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        reason = _syntax_reason(exc.problem or exc.context or "", exc.context or "")
        # Something left open is best shown where it opens, not where the file ends.
        opened = exc.context_mark if reason.endswith("not closed") else None
        mark = opened or exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        raise ConfigError(f"invalid YAML: {reason}", source, line, column=column) from None
    except yaml.YAMLError as exc:  # the reader's: a character YAML does not allow
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 0
        reason = getattr(exc, "reason", "unreadable input")
        raise ConfigError(f"invalid YAML: {reason}", source, line) from None


# PyYAML's words for a syntax error, said as what to fix; anything else is shown as is.
_SYNTAX_REASONS = (
    ("expected <block end>", "this line's indentation does not match the lines above"),
    ("mapping values are not allowed", "a ': ' inside a value; quote the value"),
    ("'\\t' that cannot start", "a tab; YAML indents with spaces only"),
    ("could not find expected ':'", "a line without 'key: value' inside a mapping"),
    ("did not find expected key", "a line at the wrong indentation inside a mapping"),
    ("did not find expected '-'", "a line at the wrong indentation inside a list"),
    ("expected ',' or ']'", "a [ list ] that is not closed"),
    ("expected ',' or '}'", "a { mapping } that is not closed"),
    ("found undefined alias", "an alias (*name) with no anchor (&name) before it"),
    ("unknown escape character", "an unknown backslash escape in a double-quoted string"),
)
_QUOTE_NOT_CLOSED = "a quoted string that is not closed"


def _syntax_reason(problem: str, context: str) -> str:
    """A short reason for a YAML syntax error, in words that say what to fix."""
    if "quoted scalar" in context and "end of stream" in problem:
        return _QUOTE_NOT_CLOSED
    for words, reason in _SYNTAX_REASONS:
        if words in problem:
            return reason
    return problem


class MarkedYAML:
    """A parsed YAML document plus the line number of each path in it."""

    def __init__(self, text: str | bytes, source: str) -> None:
        self.source = source
        self.lines: dict[FieldPath, int] = {}
        self._constructor = yaml.constructor.SafeConstructor()
        decoded = _decode(text, source)
        self._budget = _NODE_ALLOWANCE + len(decoded)
        self._open: set[int] = set()  # ids of the nodes being converted: an alias loop
        node = _compose(decoded, source)
        self.data: Any = self._convert(node, ()) if node is not None else {}

    def _fail(self, node: yaml.Node, path: FieldPath, message: str) -> ConfigError:
        return ConfigError(message, self.source, node.start_mark.line + 1, field_name(path))

    def _convert(self, node: yaml.Node, path: FieldPath) -> Any:
        self._budget -= 1
        if self._budget < 0:
            raise self._fail(node, path, "too many values once aliases are expanded")
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self._open:
            raise self._fail(node, path, "recursive alias: a value contains itself")
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode) and node.tag == _CORE + "map":
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode) and node.tag == _CORE + "seq":
                return [self._convert(item, path + (i,)) for i, item in enumerate(node.value)]
            raise self._fail(node, path, f"unsupported tag {node.tag!r}")
        finally:
            self._open.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, path: FieldPath) -> Any:
        if node.tag in _IMPLICIT_AS_TEXT and node.style is None:
            return str(node.value)
        if node.tag not in _SCALAR_TAGS:
            raise self._fail(node, path, f"unsupported tag {node.tag!r}")
        try:
            return self._constructor.construct_object(node)
        except (ValueError, ArithmeticError, LookupError, TypeError, yaml.YAMLError):
            tag = node.tag.replace(_CORE, "!!")
            raise self._fail(node, path, f"not a valid {tag} value") from None

    def _mapping(self, node: yaml.MappingNode, path: FieldPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: list[tuple[yaml.ScalarNode, yaml.Node]] = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self._fail(key_node, path, "a key must be a plain value")
            if key_node.tag == _MERGE:
                self._merge(result, value_node, path)
            else:
                explicit.append((key_node, value_node))
        inherited = set(result)
        for key_node, value_node in explicit:
            key = str(self._scalar(key_node, path))
            if key in result and key not in inherited:
                raise self._fail(key_node, path + (key,), "duplicate key")
            inherited.discard(key)
            self.lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = self._convert(value_node, path + (key,))
        return result

    def _merge(self, result: dict[str, Any], node: yaml.Node, path: FieldPath) -> None:
        """`<<: *base` or `<<: [*a, *b]`: the keys given explicitly win, then the first source."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise self._fail(source, path, "a merge key (<<) takes a mapping or a list of them")
            for key, value in self._convert(source, path).items():
                result.setdefault(key, value)

    def error(self, path: FieldPath, message: str) -> ConfigError:
        """A ConfigError pointing at `path` (or its nearest known parent)."""
        probe = path
        while probe and probe not in self.lines:
            probe = probe[:-1]
        return ConfigError(message, self.source, self.lines.get(probe, 0), field_name(path))
