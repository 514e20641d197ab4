"""Distinct error messages per source, with counts and first/last seen: the Errors panel's list.

A storm of the same error is one line with a rising count, not a scrolling flood.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from engine import secrets
from engine.snapshot import ERROR_GROUPS, ErrorGroup


class ErrorBook:
    def __init__(self, capacity: int = ERROR_GROUPS) -> None:
        self._capacity = capacity
        self._groups: OrderedDict[tuple[str, str], ErrorGroup] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, t: float, source: str, message: str, context: str = "") -> None:
        key = (source, message)
        with self._lock:
            old = self._groups.pop(key, None)
            if old is None:
                group = ErrorGroup(source, message, 1, t, t, context)
            else:
                group = ErrorGroup(source, message, old.count + 1, old.first_seen, t, context or old.context)
            self._groups[key] = group  # most recent last
            while len(self._groups) > self._capacity:
                self._groups.popitem(last=False)

    def groups(self) -> tuple[ErrorGroup, ...]:
        """Newest first."""
        with self._lock:
            return tuple(reversed(self._groups.values()))


def context_text(kind: str, data: dict[str, Any] | None) -> str:
    """An error's context line, from its event's kind and data (live, and again in review)."""
    if not data:
        return f"kind: {kind}"
    details = ", ".join(f"{k}={v}" for k, v in data.items())
    return secrets.redact(f"kind: {kind}; {details}")
