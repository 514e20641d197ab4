"""A source's state for the operator: one HealthView per watch/log source (OK "watching",
WARN "waiting for <dir>: does not exist"), contributed to the snapshot. The Health panel lists it
and the Throughput panel says it in place of a rate the source cannot have."""

from __future__ import annotations

import time

from engine.snapshot import HealthStatus, HealthView


class SourceStatus:
    def __init__(self, name: str) -> None:
        self.name = name
        self.view = HealthView(name, HealthStatus.UNKNOWN, time.time(), value="starting")

    def set(self, status: str, value: str, detail: str = "") -> bool:
        """Change the state; True if it changed (callers record an event only then)."""
        old = self.view
        if (old.status, old.value, old.detail) == (status, value, detail):
            return False
        since = old.since if old.status == status else time.time()
        self.view = HealthView(self.name, status, since, value=value, detail=detail)
        return True

    @property
    def ok(self) -> bool:
        return self.view.status == HealthStatus.OK
