"""The directory source's checkpoint: which version of each file it has already handled.

The truth is the `watched_files` table (path, size, mtime, digest, status, error, processed_at):
one row per path, written as files are processed or fail. This is its in-memory index for one
directory, loaded from those rows at start: a file whose (relative path, size, mtime) was handled
is not read again, across restarts too, so a restart mid-directory picks up exactly the files
not yet recorded. A touched or rewritten file is a new version and is handled again.

Why 64-bit hashes in sorted arrays instead of a dict of paths: memory is per file here, and a
directory may hold millions. A dict of relative path -> (size, mtime) costs ~160 bytes a file
(16 MB per 100,000), and its small objects, made while thousands of short-lived ones come and go,
pin memory the allocator cannot give back. A sorted `array('q')` costs 8 bytes a file and no
object per file; recent additions wait in a small set (at most MERGE_AT ints) and are merged into
it by slice copies. The price is a 1-in-2^64 chance per new version of colliding with a handled
one. Entries of files that were deleted or rewritten since are dropped at each full reconcile
(`rebuild`), which sees every file on disk.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Sequence
from itertools import chain
from pathlib import Path

from engine.store import Store, StoreError, open_reader

PROCESSED = "processed"
FAILED = "failed"
MERGE_AT = 8192  # recent additions kept apart (a set: cheap to add to) before they are merged


def fingerprint(relative: str, size: int, mtime: float) -> int:
    return hash((relative, size, mtime))


class Ledger:
    def __init__(self, directory: str, hashes: array | None = None) -> None:
        self.directory = directory
        self._cut = len(directory) + 1
        self._sorted = hashes if hashes is not None else array("q")
        self._recent: set[int] = set()  # short: a few hundred KB at most
        self._since_scan: array | None = None  # recorded while a rebuild's scan runs

    @classmethod
    def load(cls, store: Store, directory: str | Path) -> Ledger:
        """Blocking (run it in a thread): flush what this process queued, then read the rows.

        The flush matters after a restart of the source inside a running engine: rows it wrote
        a moment ago may still be in the writer's buffer, and reading without them would
        process those files twice."""
        directory = str(directory)
        store.flush(timeout=30.0)
        try:
            reader = open_reader(store.path)
        except StoreError:
            if not Path(store.path).exists():
                return cls(directory)
            raise
        try:
            rows = reader.watched_files(directory)
        finally:
            reader.close()
        cut = len(directory) + 1
        return cls(directory, array("q", sorted(fingerprint(path[cut:], size, mtime) for path, size, mtime, *_ in rows)))

    def relative(self, path: str) -> str:
        return path[self._cut :]

    def key(self, path: str, size: int, mtime: float) -> int:
        """The fingerprint of this version of `path` (any thread)."""
        return fingerprint(path[self._cut :], size, mtime)

    def has(self, path: str, size: int, mtime: float) -> bool:
        """This version of `path` was handled. Safe from worker threads (see `_merge`)."""
        key = fingerprint(path[self._cut :], size, mtime)
        return key in self._recent or _contains(self._sorted, key)

    def record(self, path: str, size: int, mtime: float) -> None:
        """On the event loop only."""
        self.record_keys((fingerprint(path[self._cut :], size, mtime),))

    def record_keys(self, keys: Sequence[int]) -> None:
        """Versions handled, by their `key()`s. On the event loop only."""
        self._recent.update(keys)
        if self._since_scan is not None:
            self._since_scan.extend(keys)
        if len(self._recent) >= MERGE_AT:
            self._merge()

    def _merge(self) -> None:
        merged = _merge_sorted(self._sorted, array("q", sorted(self._recent)))
        # The merged array first, then the empty one: a reader in another thread always finds the
        # key in one of them (it looks in _recent, then in _sorted). Each set or array operation is
        # one C call under the GIL, so no reader sees one half-changed.
        self._sorted = merged
        self._recent = set()

    def begin_rebuild(self) -> None:
        """A full scan starts: remember what is recorded meanwhile."""
        self._since_scan = array("q")

    def rebuild(self, current: array) -> None:
        """The scan found these handled versions on disk: keep them and what was recorded since
        the scan began; drop the rest (files deleted or rewritten since they were handled)."""
        since = self._since_scan if self._since_scan is not None else array("q")
        self._since_scan = None
        self._sorted = array("q", sorted(chain(current, since)))
        self._recent = set()

    def end_rebuild_unfinished(self) -> None:
        """The scan failed: keep everything."""
        self._since_scan = None

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)


def _merge_sorted(big: array, small: array) -> array:
    """Both sorted, `small` short: one bisect per key of `small` and slice copies of `big`.
    sorted(chain(...)) would make an int object per entry of `big` at every merge, on the event
    loop: O(n) work every MERGE_AT files, 100,000 objects at a time."""
    merged = array("q")
    start = 0
    for key in small:
        end = bisect_left(big, key, start)
        merged.extend(big[start:end])  # array slices: one memcpy, no object per entry
        merged.append(key)
        start = end
    merged.extend(big[start:])
    return merged


def _contains(hashes: array, key: int) -> bool:
    i = bisect_left(hashes, key)
    return i < len(hashes) and hashes[i] == key
