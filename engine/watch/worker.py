"""Handling files in the directory source's worker threads: open, check the file is complete,
read, hash, run the processor. Never on the event loop; one call handles a chunk of paths.

"Complete" (stable): a writer gives no signal that it has finished, so a file counts as written
once its mtime is at least `settle` old, and its size and mtime are the same after reading as
before. Otherwise the result is WAIT with how long to wait. A file renamed into place (the usual
atomic write) keeps the mtime of its last write, so it waits at most `settle` and is read once.

Opened with O_NONBLOCK so a FIFO with a matching name cannot hang a worker, then skipped as not a
regular file. Every outcome is a FileResult; nothing here raises for a bad file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from engine.watch.ledger import PROCESSED
from engine.watch.processors import ProcessingError, Processor

log = logging.getLogger("opsconsole.watch")

DONE, FAILED, RETRY, WAIT, GONE, SAME, SKIP = "done", "failed", "retry", "wait", "gone", "same", "skip"
READ_CHUNK = 1 << 20
OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)


class FileResult(NamedTuple):
    kind: str  # DONE / FAILED (bad content) / RETRY (I/O error) / WAIT (still written) / GONE / SAME / SKIP
    path: str
    size: int = 0
    mtime: float = 0.0
    digest: str | None = None
    error: str = ""
    seconds: float = 0.0  # DONE/FAILED: time spent on the file; WAIT: how long to wait
    records: int | None = None


@dataclass(frozen=True)
class Job:
    processor: Processor
    settle: float
    max_file_size: int
    handled: Callable[[str, int, float], bool]  # Ledger.has: this version was processed already
    clock: Callable[[], float] = time.time
    key: Callable[[str, int, float], int] | None = None  # Ledger.key, for the keys of done files


@dataclass(slots=True)
class ChunkResult:
    """A chunk's outcome, with the done files already in the form the event loop stores them:
    their ledger rows and ledger keys, and sums for the counters. Building these here, in the
    worker, keeps the per-file work on the event loop (the one thread everything waits for) to a
    set update and a list hand-over."""

    rows: list[tuple[Any, ...]] = field(default_factory=list)  # watched_files rows of DONE files
    keys: list[int] = field(default_factory=list)  # their Ledger keys (if the job has `key`)
    bytes: int = 0
    seconds: float = 0.0
    records: int | None = None
    others: list[FileResult] = field(default_factory=list)  # everything but DONE


def process_chunk(paths: list[str], job: Job) -> ChunkResult:
    out = ChunkResult()
    rows, keys, others = out.rows, out.keys, out.others
    key = job.key
    now = time.time()
    for path in paths:
        r = process_one(path, job)
        if r.kind != DONE:
            others.append(r)
            continue
        rows.append((path, r.size, r.mtime, r.digest, PROCESSED, None, now))
        if key is not None:
            keys.append(key(path, r.size, r.mtime))
        out.bytes += r.size
        out.seconds += r.seconds
        if r.records is not None:
            out.records = (out.records or 0) + r.records
    return out


def process_one(path: str, job: Job) -> FileResult:
    started = time.perf_counter()
    try:
        fd = os.open(path, OPEN_FLAGS)
    except FileNotFoundError:
        return FileResult(GONE, path)
    except OSError as exc:
        return _unreadable(path, exc)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return FileResult(SKIP, path)
        size, mtime = st.st_size, st.st_mtime
        if job.handled(path, size, mtime):
            return FileResult(SAME, path, size, mtime)
        age = job.clock() - mtime
        if age < job.settle:
            return FileResult(WAIT, path, size, mtime, seconds=job.settle - age)
        processor = job.processor
        if processor.whole_file and size > job.max_file_size:
            return FileResult(
                FAILED, path, size, mtime,
                error=f"{size} bytes is over max_file_size ({job.max_file_size}) for the {processor.name} processor",
            )
        hasher = hashlib.sha256()
        if size < READ_CHUNK:
            data = os.read(fd, size + 1)  # one byte more than expected: a file still growing shows
            if len(data) != size:
                return FileResult(WAIT, path, size, mtime, seconds=job.settle)
            hasher.update(data)
            try:
                records = processor.run((data,))
            except ProcessingError as exc:
                return FileResult(FAILED, path, size, mtime, hasher.hexdigest(), str(exc), time.perf_counter() - started)
        else:
            reader = _Chunks(fd, hasher)
            try:
                records = processor.run(reader)
                reader.drain()
            except ProcessingError as exc:
                digest = hasher.hexdigest() if reader.finished else None
                return FileResult(FAILED, path, size, mtime, digest, str(exc), time.perf_counter() - started)
            if reader.total != size:
                return FileResult(WAIT, path, size, mtime, seconds=job.settle)
        after = os.fstat(fd)
        if after.st_size != size or after.st_mtime != mtime:
            return FileResult(WAIT, path, size, mtime, seconds=job.settle)
        return FileResult(DONE, path, size, mtime, hasher.hexdigest(), "", time.perf_counter() - started, records)
    except OSError as exc:
        return _unreadable(path, exc)
    except Exception as exc:  # a processor's bug: the file is recorded as failed, the trace logged
        log.exception("processor %s crashed on %s", job.processor.name, path)
        return FileResult(FAILED, path, error=f"processor {job.processor.name} crashed: {type(exc).__name__}: {exc}")
    finally:
        os.close(fd)


def _unreadable(path: str, exc: OSError) -> FileResult:
    """An I/O error: retried with backoff. The stat (which needs no read permission) gives the
    version to record if it keeps failing."""
    reason = f"cannot read: {(exc.strerror or str(exc)).lower()}"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return FileResult(GONE, path)
    except OSError:
        return FileResult(RETRY, path, error=reason)
    return FileResult(RETRY, path, st.st_size, st.st_mtime, error=reason)


class _Chunks:
    """The content of a large file in READ_CHUNK pieces, hashed as it goes by."""

    def __init__(self, fd: int, hasher: hashlib._Hash) -> None:
        self._fd = fd
        self._hasher = hasher
        self.total = 0
        self.finished = False

    def __iter__(self) -> Iterator[bytes]:
        while not self.finished:
            chunk = os.read(self._fd, READ_CHUNK)
            if not chunk:
                self.finished = True
                return
            self._hasher.update(chunk)
            self.total += len(chunk)
            yield chunk

    def drain(self) -> None:
        """Read what the processor did not ask for, so the digest covers the whole file."""
        for _ in self:
            pass
