"""One check's result, and the thresholds that turn results into the status the operator sees.

The shown status starts UNKNOWN and takes the first result as it is (there is no history to be
steady against). After that it turns WARN/FAIL only after `failure_threshold` consecutive bad
results, and back to OK only after `success_threshold` consecutive good ones, so one slow answer
does not flap the panel (Gatus' failure-threshold / success-threshold). The value, limit and
detail always show the latest result, with the streak when it disagrees with the status.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.snapshot import HealthStatus, HealthView

OK, WARN, FAIL, UNKNOWN = (s.value for s in (HealthStatus.OK, HealthStatus.WARN, HealthStatus.FAIL, HealthStatus.UNKNOWN))
LEVELS = {OK: 0, WARN: 1, FAIL: 2}  # recorded as health:<name>/status_level
# Worst first, for the overall status: a FAIL anywhere is what the operator must see.
_RANK = {FAIL: 3, WARN: 2, UNKNOWN: 1, OK: 0}


@dataclass(frozen=True)
class CheckResult:
    status: str  # OK / WARN / FAIL
    value: str = ""  # what was measured, as shown: "41.2GB free", "200 in 12ms"
    limit: str = ""  # what it is held against: "≥1GB", "≤500ms"
    detail: str = ""  # why it is not OK, a sentence
    components: tuple[tuple[str, str], ...] = ()  # (component, OK/WARN/FAIL) of an HTTP health document
    response_ms: float | None = None

    @classmethod
    def worst(cls, *statuses: str) -> str:
        return max(statuses, key=lambda s: _RANK[s], default=OK)


def overall(views: tuple[HealthView, ...]) -> str:
    """The status for the header: the worst among checks with a result (an UNKNOWN one, e.g. a
    backup check with no backup yet, never hides that the others are OK); UNKNOWN only while
    nothing has reported; "" with no checks."""
    if not views:
        return ""
    known = [v.status for v in views if v.status != UNKNOWN]
    return max(known, key=lambda s: _RANK.get(s, 1)) if known else UNKNOWN


class CheckState:
    """The shown status of one check, from its results."""

    def __init__(self, name: str, failure_threshold: int, success_threshold: int, now: float) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.success_threshold = success_threshold
        self.status = UNKNOWN
        self.since = now
        self.last: CheckResult | None = None
        self._good = 0
        self._bad = 0

    def update(self, result: CheckResult, now: float) -> str | None:
        """Take a result; return the previous status if the shown status changed, else None."""
        self.last = result
        if result.status == OK:
            self._good, self._bad = self._good + 1, 0
            wanted = OK if (self.status == UNKNOWN or self._good >= self.success_threshold) else self.status
        else:
            self._good, self._bad = 0, self._bad + 1
            wanted = result.status if (self.status == UNKNOWN or self._bad >= self.failure_threshold) else self.status
        if wanted == self.status:
            return None
        previous, self.status, self.since = self.status, wanted, now
        return previous

    def view(self) -> HealthView:
        r = self.last
        if r is None:
            return HealthView(self.name, self.status, self.since, detail="no result yet")
        detail = r.detail
        if r.status != self.status and self.status != UNKNOWN:
            streak = (f"{self._good}/{self.success_threshold} good results" if r.status == OK
                      else f"{self._bad}/{self.failure_threshold} bad results")
            detail = f"{detail} ({streak})" if detail else streak
        return HealthView(self.name, self.status, self.since, r.value, r.limit, detail, r.components)
