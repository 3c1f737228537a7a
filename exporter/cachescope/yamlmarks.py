"""Load YAML into plain data while remembering the line of every field.

Config errors must name the file, the line and the field; PyYAML's plain
`safe_load` forgets where values came from, so we walk the node tree ourselves.
"""

from __future__ import annotations

from typing import Any

import yaml

Path = tuple[str | int, ...]


class ConfigError(ValueError):
    """A configuration problem, located as precisely as we know."""

    def __init__(self, message: str, source: str = "", line: int = 0, field: str = "") -> None:
        self.message = message
        self.source = source
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or "<config>"
        if self.line:
            where += f":{self.line}"
        field = f" field {self.field!r}:" if self.field else ""
        return f"{where}:{field} {self.message}"


def field_name(path: Path) -> str:
    """Render a path like ('targets', 2, 'timeout') as 'targets[2].timeout'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class MarkedYAML:
    """A parsed YAML document plus the line number of each path in it."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lines: dict[Path, int] = {}
        self._constructor = yaml.constructor.SafeConstructor()
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"invalid YAML: {problem}", source, line) from None
        self.data: Any = self._convert(node, ()) if node is not None else {}

    def _convert(self, node: yaml.Node, path: Path) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(self._constructor.construct_object(key_node))
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                result[key] = self._convert(value_node, path + (key,))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self._convert(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._constructor.construct_object(node)

    def error(self, path: Path, message: str) -> ConfigError:
        """A ConfigError pointing at `path` (or its nearest known parent)."""
        probe = path
        while probe and probe not in self.lines:
            probe = probe[:-1]
        return ConfigError(message, self.source, self.lines.get(probe, 0), field_name(path))
