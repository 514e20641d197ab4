"""The Snapshot's state, recorded when it changes, so a review reads what the engine held.

Series, events, gaps and errors are in the history already, row by row. What the engine holds
besides them (the rollout panel with its last check, the alert list, health lines, targets,
processes, components) was, until schema version 7, re-derived by review from events and samples,
re-running the canary's and the alerts' code. Now each of those Snapshot fields is written to the
`states` table whenever its value changes (the engine's own view objects through the snapshot
codec, JSON, zlib), and review decodes the newest row at or before its cursor.

Changes are found by identity first (contributors hand out the same prebuilt tuples until
something changes), then by equality; only a changed field is encoded.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from engine.snapshot import Snapshot
from engine.snapshot_codec import field_from_jsonable, to_jsonable

RECORDED = ("components", "health", "alerts", "silences", "targets", "processes", "rollout")
_UNSET = object()


def encode(value: Any) -> bytes:
    text = json.dumps(to_jsonable(value), separators=(",", ":"), ensure_ascii=False)
    return zlib.compress(text.encode(), 6)


def decode(part: str, body: bytes) -> Any:
    """The Snapshot field `part` from its recorded body (SnapshotCodecError or zlib.error if damaged)."""
    return field_from_jsonable(part, json.loads(zlib.decompress(body)))


class StateRecorder:
    """Which recorded fields of a new snapshot differ from the last ones recorded."""

    def __init__(self) -> None:
        self._last: dict[str, Any] = {}
        self._bodies: dict[str, bytes] = {}

    def changes(self, snapshot: Snapshot) -> list[tuple[str, bytes]]:
        out = []
        for part in RECORDED:
            value = getattr(snapshot, part)
            last = self._last.get(part, _UNSET)
            if value is last or value == last:
                continue
            self._last[part] = value
            body = encode(value)
            if body != self._bodies.get(part):  # NaN != NaN: equal views may compare unequal
                self._bodies[part] = body
                out.append((part, body))
        return out
