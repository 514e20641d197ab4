"""What every actuator shares: the request it is given, its failure, templates, and retries.

An actuator moves traffic: `apply(actuation)` sets the canary's weight (set_weight), makes the
canary the whole service (promote) or takes all traffic back (rollback). It must be idempotent:
applying the same actuation twice leaves the same state (the component re-applies a weight after
a restart). Its failures are ActuatorError sentences that name what failed and where.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

log = logging.getLogger("opsconsole.canary")

Kind = Literal["set_weight", "promote", "rollback"]


class ActuatorError(Exception):
    """The actuator could not move traffic; str() says what failed and where."""

    def __init__(self, message: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.data = data or {}


@dataclass(frozen=True)
class Actuation:
    kind: Kind
    weight: int  # the canary's share after it: set_weight's stage weight, 100 to promote, 0 to roll back
    service: str = ""
    rollout_id: int = 0
    stage: int = 0  # 1-based, as operators count

    def placeholders(self) -> dict[str, Any]:
        return {"weight": self.weight, "stable_weight": 100 - self.weight, "service": self.service,
                "rollout_id": self.rollout_id, "stage": self.stage}

    def describe(self) -> str:
        return {"set_weight": f"set weight {self.weight}%", "promote": "promote", "rollback": "roll back"}[self.kind]


@dataclass(frozen=True)
class Applied:
    """What a successful call said, e.g. "POST http://…/canary/enable: HTTP 200"; data for the record."""

    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    ok: bool
    detail: str
    attempts: int
    called_at: float  # wall time the first attempt began (the reaction benchmark reads it)
    seconds: float
    data: dict[str, Any] = field(default_factory=dict)


class Actuator(Protocol):
    kind: str

    def describe(self) -> str:
        """Where it acts, for events: "nginx upstream checkout in /etc/nginx/conf.d/checkout.conf"."""

    async def apply(self, actuation: Actuation) -> Applied: ...

    async def warm(self) -> None:
        """Get ready for the next apply (an http actuator opens its connection), so a verb does
        not wait for it. Called every few seconds while a rollout runs; may raise, and then the
        next apply will fail and say why."""

    async def aclose(self) -> None: ...


def render(template: str, values: dict[str, Any]) -> Any:
    """Fill a template. A string that is exactly one placeholder keeps the value's type, so a JSON
    body's `"{weight}"` is sent as the number 10, not the string "10"."""
    stripped = template.strip()
    if stripped.startswith("{") and stripped.endswith("}") and stripped[1:-1] in values:
        return values[stripped[1:-1]]
    return template.format_map(values)


def render_json(body: Any, values: dict[str, Any]) -> Any:
    if isinstance(body, str):
        return render(body, values)
    if isinstance(body, dict):
        return {key: render_json(value, values) for key, value in body.items()}
    if isinstance(body, list):
        return [render_json(value, values) for value in body]
    return body


async def apply_with_retries(
    actuator: Actuator,
    actuation: Actuation,
    retries: int,
    backoff: float,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Report:
    """Apply, retrying `retries` times with doubling backoff. Never raises an ActuatorError: the
    report says what happened, and the caller decides (a failed rollback is retried for ever)."""
    called_at, started = time.time(), time.monotonic()
    delay = backoff
    error: ActuatorError | None = None
    for attempt in range(1, retries + 2):
        try:
            applied = await actuator.apply(actuation)
        except ActuatorError as exc:
            error = exc
            log.warning("%s: %s failed (attempt %d/%d): %s", actuator.kind, actuation.describe(), attempt,
                        retries + 1, exc)
            if attempt <= retries:
                await sleep(delay)
                delay *= 2
            continue
        return Report(True, applied.detail, attempt, called_at, time.monotonic() - started, applied.data)
    assert error is not None
    return Report(False, str(error), retries + 1, called_at, time.monotonic() - started, error.data)
