"""Log lines as logfmt or JSON, on stderr."""

from __future__ import annotations

import json
import logging
import time


class _LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        text = f"ts={when}.{int(record.msecs):03d}Z level={record.levelname.lower()} "
        text += f"logger={record.name} msg={json.dumps(record.getMessage())}"
        if record.exc_info:
            text += f" exc={json.dumps(self.formatException(record.exc_info))}"
        return text


class _JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_JSONFormatter() if fmt == "json" else _LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def logging_settings() -> tuple[str, str]:
    """The (level, format) set up by setup_logging, for a worker process to set up alike."""
    root = logging.getLogger()
    json_format = any(isinstance(h.formatter, _JSONFormatter) for h in root.handlers)
    return logging.getLevelName(root.level).lower(), "json" if json_format else "logfmt"
