"""A circuit breaker per target: stop hammering a target that keeps failing, probe it now and then.

CLOSED --(N consecutive failed attempts)--> OPEN --(open_for elapsed)--> HALF_OPEN (one probe)
HALF_OPEN --probe ok--> CLOSED;  HALF_OPEN --probe failed--> OPEN (for another open_for)

A failure may ask to be held longer than open_for (a 429 whose Retry-After is longer): the probe
then goes out when the server said it may, not into a wait it would only be refused by.

Every transition is reported through `on_change(old, new, why)`, which the target turns into an
event, so the history shows when and why collection from a target stopped and resumed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from engine.collect.config import BreakerConfig


class BreakerState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class CircuitBreaker:
    def __init__(
        self,
        config: BreakerConfig,
        on_change: Callable[[BreakerState, BreakerState, str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = config.failures
        self.open_for = config.open_for
        self.state = BreakerState.CLOSED
        self.failures = 0  # consecutive
        self.opened_at = 0.0
        self.open_until = 0.0
        self._on_change = on_change
        self._clock = clock
        self._probing = False

    def allow(self) -> bool:
        """May an attempt go out now? In HALF_OPEN exactly one (the probe) may."""
        if self.state is BreakerState.OPEN:
            if self._clock() < self.open_until:
                return False
            self._move(BreakerState.HALF_OPEN, f"probing after {self.open_until - self.opened_at:g}s open")
        if self.state is BreakerState.HALF_OPEN:
            if self._probing:
                return False
            self._probing = True
        return True

    def reopens_in(self) -> float:
        return max(0.0, self.open_until - self._clock()) if self.state is BreakerState.OPEN else 0.0

    def success(self) -> None:
        self.failures = 0
        self._probing = False
        if self.state is not BreakerState.CLOSED:
            self._move(BreakerState.CLOSED, "probe succeeded")

    def failure(self, why: str, hold: float = 0.0) -> None:
        """One failed attempt; should it open the circuit, it stays open at least `hold` seconds."""
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN:
            self._probing = False
            self._open(f"probe failed: {why}", hold)
        elif self.state is BreakerState.CLOSED and self.failures >= self.threshold:
            self._open(f"{self.failures} consecutive failure{'s' if self.failures != 1 else ''}, last: {why}", hold)

    def release_probe(self) -> None:
        """The probe ended without a verdict (e.g. rate limited before it was sent)."""
        self._probing = False

    def _open(self, why: str, hold: float) -> None:
        self.opened_at = self._clock()
        self.open_until = self.opened_at + max(self.open_for, hold)
        self._move(BreakerState.OPEN, why)

    def _move(self, new: BreakerState, why: str) -> None:
        old, self.state = self.state, new
        self._on_change(old, new, why)
