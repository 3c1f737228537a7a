"""Log lines as logfmt or JSON, on stderr: `ts`, `level`, `msg`, then one key per field.

A call site passes its fields apart from the message, so that a log pipeline can
filter on them (`target`, `error`) instead of parsing them out of the text:

    log.warning("scrape failed", extra=fields(target=name, error=kind))

Values are taken as given: a call site scrubs secrets from them first, as it did
when they were part of the message.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

# Printed names: Prometheus' own exporters (go-kit log) say "warn", not "warning".
_LEVEL_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}
_LEVELS = {
    "debug": "DEBUG",
    "info": "INFO",
    "warn": "WARNING",
    "warning": "WARNING",
    "error": "ERROR",
}
_RESERVED = ("ts", "level", "msg")
_BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_BARE_VALUE = re.compile(r"[!#-<>-~]+")  # printable ASCII but space, '"' and '='
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def fields(**values: object) -> dict[str, Any]:
    """The `extra=` of a log call whose values each become their own key in the line."""
    return {"fields": values}


def _level(record: logging.LogRecord) -> str:
    return _LEVEL_NAMES.get(record.levelno, record.levelname.lower())


def _timestamp(record: logging.LogRecord) -> str:
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{when}.{int(record.msecs):03d}Z"


def _pairs(formatter: logging.Formatter, record: logging.LogRecord) -> list[tuple[str, Any]]:
    """The line's keys and values in order; a field named like a fixed key gets a '_' prefix."""
    pairs: list[tuple[str, Any]] = [
        ("ts", _timestamp(record)),
        ("level", _level(record)),
        ("msg", record.getMessage()),
    ]
    given = getattr(record, "fields", None)
    for key, value in (given if isinstance(given, dict) else {}).items():
        if value is not None:
            pairs.append((f"_{key}" if key in _RESERVED else key, value))
    if record.exc_info:
        pairs.append(("exc", formatter.formatException(record.exc_info)))
    return pairs


def logfmt_value(value: object) -> str:
    """A value as logfmt: bare when it is plain ASCII, else quoted with escapes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if _BARE_VALUE.fullmatch(text):
        return text
    return '"' + "".join(_escape(char) for char in text) + '"'


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _logfmt_key(key: str) -> str:
    """A key as logfmt allows it: anything else becomes '_'."""
    return key if _BARE_KEY.fullmatch(key) else re.sub(r"[^A-Za-z0-9_.\-]", "_", key) or "_"


class _LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        pairs = _pairs(self, record)
        return " ".join(f"{_logfmt_key(key)}={logfmt_value(value)}" for key, value in pairs)


def _json_value(value: object) -> object:
    return value if isinstance(value, bool | int | float | str) else str(value)


class _JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {key: _json_value(value) for key, value in _pairs(self, record)}
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str) -> None:
    """Log to stderr at `level` (debug, info, warn or warning, error) in logfmt or JSON."""
    handler = logging.StreamHandler()
    handler.setFormatter(_JSONFormatter() if fmt == "json" else _LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(level.lower(), level.upper()))


def logging_settings() -> tuple[str, str]:
    """The (level, format) set up by setup_logging, for a worker process to set up alike."""
    root = logging.getLogger()
    json_format = any(isinstance(h.formatter, _JSONFormatter) for h in root.handlers)
    return _LEVEL_NAMES.get(root.level, "info"), "json" if json_format else "logfmt"
