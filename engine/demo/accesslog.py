"""The router's access log: one JSON object per line, like an nginx `escape=json` log format.

A later part tails this file (and follows rotation); here it is only kept bounded: past
`max_bytes` the file is renamed to `access.json.1` (replacing the previous one) and reopened.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from engine.demo.files import open_private_append

log = logging.getLogger("opsconsole.demo")

MAX_BYTES = 50 * 1000 * 1000  # 50MB, in the decimal units config sizes use


class AccessLog:
    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._file = open_private_append(path)
        self._size = self._file.tell()
        self.rotations = 0

    def write(
        self, *, ts: float, upstream: str, method: str, path: str, status: int, request_time: float, nbytes: int
    ) -> None:
        line = json.dumps(
            {
                "time": datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds"),
                "ts": round(ts, 6),
                "upstream": upstream,
                "method": method,
                "path": path,
                "status": status,
                "request_time": round(request_time, 6),
                "bytes": nbytes,
            }
        ).encode() + b"\n"
        with self._lock:
            if self._file.closed:
                return  # a request finishing while the demo stops; nothing to keep
            if self._size + len(line) > self.max_bytes and self._size > 0:
                self._rotate()
            # Flushed per line: a tailer should see a request the moment it is answered.
            self._file.write(line)
            self._file.flush()
            self._size += len(line)

    def _rotate(self) -> None:
        self._file.close()
        try:
            os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            self.rotations += 1
            self._file = open_private_append(self.path)
            self._size = self._file.tell()
        except OSError as exc:
            # Keep logging into the same file rather than lose lines; try again after another max_bytes.
            log.warning("demo: cannot rotate %s: %s", self.path, exc)
            self._file = open_private_append(self.path)
            self._size = 0

    def close(self) -> None:
        with self._lock:
            self._file.close()
