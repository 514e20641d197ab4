"""Files arriving in a directory, for the directory watcher to process.

Every `every` seconds a small JSON document lands in the inbox, written atomically (temp file +
rename), so a watcher never reads half a file. One file in `invalid_every` is deliberately not
valid JSON, so the json processor has real errors to show. At most `keep` of our files are kept:
the oldest are deleted.

Names sort by time (`demo-20250101T120000.123456Z-000042.json`), so the oldest files are found by
name, across restarts, without a stat per file.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

from engine.demo.files import ensure_private_dir, write_atomic

log = logging.getLogger("opsconsole.demo")

PREFIX = "demo-"


class InboxWriter:
    def __init__(self, directory: Path, every: float, keep: int, *, invalid_every: int = 20) -> None:
        if every <= 0 or keep < 1 or invalid_every < 1:
            raise ValueError("inbox: every must be > 0, keep and invalid_every >= 1")
        self.directory = directory
        self.every = every
        self.keep = keep
        self.invalid_every = invalid_every
        self.written = 0
        self.invalid = 0
        self._seq = 0
        self._files: deque[str] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""

    def start(self) -> None:
        ensure_private_dir(self.directory)
        self._adopt_existing()
        self._thread = threading.Thread(target=self._run, name="demo-inbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def write_one(self) -> Path:
        """Write the next file and trim the inbox to `keep` files. Returns the new file's path."""
        self._seq += 1
        now = datetime.now(UTC)
        name = f"{PREFIX}{now:%Y%m%dT%H%M%S.%f}Z-{self._seq:06d}.json"
        document = {
            "id": self._seq,
            "time": now.isoformat(timespec="milliseconds"),
            "source": "opsconsole-demo",
            "kind": "order",
            "items": random.randint(1, 5),
            "amount": round(random.uniform(5, 500), 2),
        }
        data = json.dumps(document).encode() + b"\n"
        if self._seq % self.invalid_every == 0:
            # A truncated document, as a crashed producer would leave it.
            data = data[: len(data) // 2]
            self.invalid += 1
        path = write_atomic(self.directory, name, data)
        self.written += 1
        self._files.append(name)
        self._trim()
        return path

    def _trim(self) -> None:
        while len(self._files) > self.keep:
            oldest = self._files.popleft()
            # missing_ok: a processor may already have moved or deleted the file; that is fine.
            (self.directory / oldest).unlink(missing_ok=True)

    def _adopt_existing(self) -> None:
        """Count files from an earlier run towards `keep`, and drop temp files a crash left behind."""
        for leftover in self.directory.glob(f".{PREFIX}*.tmp"):
            leftover.unlink(missing_ok=True)
        self._files = deque(sorted(p.name for p in self.directory.glob(f"{PREFIX}*.json")))
        self._trim()

    def _run(self) -> None:
        next_due = time.monotonic()
        while True:
            try:
                self.write_one()
                self._last_error = ""
            except OSError as exc:  # disk full, directory removed: warn once per distinct error, keep going
                if str(exc) != self._last_error:
                    self._last_error = str(exc)
                    log.warning("demo: cannot write to the inbox %s: %s", self.directory, exc)
                if isinstance(exc, FileNotFoundError):
                    self._recreate_directory()
            next_due += self.every
            now = time.monotonic()
            if next_due < now:  # fell behind (process suspended): carry on from now, no burst
                next_due = now
            if self._stop.wait(next_due - now):
                return

    def _recreate_directory(self) -> None:
        try:
            ensure_private_dir(self.directory)
        except OSError as exc:
            log.debug("demo: cannot recreate the inbox %s: %s", self.directory, exc)
