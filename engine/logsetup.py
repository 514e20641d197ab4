"""Structured JSON logging to a rotating, private file — never to the TUI's terminal.

Every record passes through engine.secrets.redact, so a secret that slips into a message or an
exception text is replaced by *** before it reaches the disk.
"""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
import os
import time
from pathlib import Path

from engine import secrets
from engine.config.schema import LoggingConfig
from engine.privatefs import make_missing_dirs


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
            + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": secrets.redact(record.getMessage()),
        }
        if record.exc_info:
            entry["exception"] = secrets.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    """Creates the current and every rotated file with mode 0600."""

    def _open(self) -> io.TextIOWrapper:
        old = os.umask(0o077)
        try:
            return super()._open()
        finally:
            os.umask(old)


OUR_LOGGERS = ("opsconsole", "console", "engine")


def setup_logging(config: LoggingConfig, *, also_stderr: bool = False) -> Path:
    """Route every logger to the JSON file; ours at the configured level, libraries' at WARNING.

    The root logger gets the handler, so nothing (ours or a library's) can fall through to
    Python's last-resort handler, which would write on the TUI's terminal. Returns the log path.
    """
    path = Path(config.file)
    make_missing_dirs(path.parent)
    handler = _PrivateRotatingHandler(
        path, maxBytes=config.max_size, backupCount=config.keep, encoding="utf-8", delay=False
    )
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    if also_stderr:
        stderr = logging.StreamHandler()
        stderr.setFormatter(JsonFormatter())
        root.addHandler(stderr)
    root.setLevel(logging.WARNING)  # httpx and friends log every request at INFO
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(config.level)
    return path
