"""One target's scrape: rate limit, token, bounded request, status, decode, retries, breaker.

A scrape is the requests its format asks for (one, or one per PromQL query). Each request is tried
up to `retry.attempts` times for errors worth retrying; every attempt passes the breaker first and
is counted by it. A 401 with a refreshable token gets one refresh and one more try, not counted as
an attempt. Backoff sleeps hold no concurrency slot: only the request itself does.

A 429 holds back this target for its Retry-After (ratelimit.py: not its neighbours on the host) and
counts for the breaker, so a target answering nothing but 429 shows OPEN, "rate limited: ...",
and is probed when its circuit and its Retry-After allow, instead of flapping RETRYING/OK.

The target's state word is what the Gaps panel shows:
PENDING (not scraped yet), OK, RETRYING (failing, will try again), OPEN (circuit open),
AUTH FAILED, FAIL (an answer we cannot use: 4xx configuration error, malformed, too large),
DISABLED (by the operator or `enabled: false`). Every change of word is an event.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from typing import Any, Protocol
from urllib.parse import urlsplit

from engine import eventcodes as ev
from engine import secrets
from engine.collect.auth import TokenSource
from engine.collect.breaker import BreakerState, CircuitBreaker
from engine.collect.client import Answer, fetch, retry_after
from engine.collect.config import Target, TrackConfig, effective_interval, effective_timeout
from engine.collect.errors import DecodeError, ScrapeError, Unauthorized
from engine.collect.formats import Decoded, Request, format_for
from engine.collect.formats.health import level
from engine.collect.http1 import HttpClient
from engine.collect.ratelimit import RateLimiter
from engine.collect.retry import RetryPolicy
from engine.eventcodes import EventCode
from engine.snapshot import TargetState, TargetView
from engine.units import format_duration

log = logging.getLogger(__name__)

_TS = TargetState  # its values, as plain text: the states are compared and written as words
PENDING, OK, RETRYING, OPEN, AUTH_FAILED, FAIL, DISABLED = (
    s.value for s in (_TS.PENDING, _TS.OK, _TS.RETRYING, _TS.OPEN, _TS.AUTH_FAILED, _TS.FAIL, _TS.DISABLED))
_SEVERITY = {OK: "info", RETRYING: "warning", OPEN: "critical", AUTH_FAILED: "critical", FAIL: "warning",
             DISABLED: "info", PENDING: "info"}
ERROR_DETAIL_MAX = 160
# Bodies up to this are decoded on the event loop; bigger ones in a worker thread. prometheus-client's
# parser is pure Python (~4 MB/s here): 32 KiB costs the loop ~8 ms at worst, a 1 MB page a
# quarter of a second, in which no other target, verb or panel would be served.
INLINE_DECODE_MAX = 32 * 1024


class Sink(Protocol):
    """Where a target's results go (the collect component, which passes them to the engine)."""

    def record(self, source: str, metric: str, value: float, t: float, unit: str) -> None: ...

    def event(self, code: EventCode, severity: str, source: str, message: str, data: dict[str, Any] | None = None
              ) -> None: ...

    def changed(self) -> None:
        """A target's view changed: rebuild the snapshot's targets on the next publish."""


class TargetRunner:
    def __init__(
        self,
        track: TrackConfig,
        target: Target,
        *,
        client: HttpClient,
        limiter: RateLimiter,
        token: TokenSource | None,
        slots: Callable[[], Any],
        sink: Sink,
        decoder: Executor | None = None,  # for big bodies; None: asyncio's default executor
    ) -> None:
        self.config = target
        self.track = track.name
        self.name = target.name
        self.source = f"collect:{target.name}"
        self.url = target.url
        self.interval = effective_interval(track, target)
        self.timeout = effective_timeout(track, target)
        self.max_body = track.max_body
        self.host = urlsplit(target.url).netloc
        self.format = format_for(target)
        self.retry = RetryPolicy(track.retry)
        self.breaker = CircuitBreaker(track.breaker, self._breaker_moved)
        self._client, self._limiter, self._token, self._slots, self._sink = client, limiter, token, slots, sink
        self._decoder = decoder
        self.enabled = target.enabled
        self.state = PENDING if target.enabled else DISABLED
        self.last_error: str | None = None  # as shown: may say "(attempt 2 of 3)"
        self.last_failure: str | None = None  # the failure itself, for a gap's cause
        self.last_failure_kind: str | None = None
        self.busy = False
        self.skipped = 0  # ticks skipped because the previous scrape was still running
        self.health_status: str | None = None
        self.components: dict[str, str] = {}

    # ------------------------------------------------------------------ views
    def view(self) -> TargetView:
        return TargetView(self.name, self.state, self.last_error)

    def gap_cause(self) -> str:
        """Why this target's series have no data, for a gap opening now."""
        if not self.enabled:
            return "disabled by operator"
        error = secrets.redact(self.last_failure or self.last_error or "")
        limited = self.last_failure_kind in ("rate_limited", "throttled")
        if self.state == OPEN and limited:  # up, answering only 429: not "down" (canary/down.py)
            return f"rate limited: {error} (circuit open)"
        if self.state == OPEN:
            return f"circuit open: {error}"
        if self.state == AUTH_FAILED:
            return f"auth failed: {error}"
        if self.state == FAIL:
            return f"target error: {error}"
        if self.state == RETRYING and limited:  # up, and asking us to wait
            return error if error.startswith("rate limited") else f"rate limited: {error}"
        if self.state == RETRYING:
            return f"target down: {error}"
        if self.busy:
            return f"target slow: no answer yet (timeout {format_duration(self.timeout)})"
        return "no data"

    # ------------------------------------------------------------------ operator
    def set_enabled(self, enabled: bool) -> None:
        """The operator's word (the command records who said it, so no state event here)."""
        self.enabled = enabled
        self.state, self.last_error = (PENDING if enabled else DISABLED), None
        self._sink.changed()

    # ------------------------------------------------------------------ the scrape
    async def scrape(self) -> None:
        if not self.enabled:
            return
        started = time.monotonic()
        warnings: list[str] = []
        last_answer: Answer | None = None
        try:
            for request in self.format.requests(self.url):
                answer, decoded = await self._request(request)
                last_answer = answer
                warnings += decoded.warnings
                self._record(decoded, answer)
        except ScrapeError as exc:
            self._failed(exc)
            return
        if not self.enabled or last_answer is None:
            return
        self._sink.record(self.source, "scrape_ms", (time.monotonic() - started) * 1000, last_answer.t, "ms")
        self.last_failure = None
        self._set_state(OK, "; ".join(dict.fromkeys(warnings)) or None)

    async def _request(self, request: Request) -> tuple[Answer, Decoded]:
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            if not self.breaker.allow():
                probe = format_duration(self.breaker.reopens_in())
                if self.last_failure_kind == "rate_limited":  # up, answering only 429: say so first
                    raise ScrapeError("circuit_open", f"rate limited: {self.last_failure}; circuit open, next probe in {probe}")
                why = f" ({self.last_failure})" if self.last_failure else ""
                raise ScrapeError("circuit_open", f"circuit open{why}; next probe in {probe}")
            headers: dict[str, str] = {}
            try:
                if self._token is not None:
                    headers = await self._token.headers()
                result = await self._attempt(request, headers)
            except Unauthorized:
                self.breaker.release_probe()
                if self._token is None or not self._token.refreshable or refreshed:
                    raise
                refreshed = True
                attempt -= 1  # the retry after a refresh is not a new attempt
                await self._token.refresh_after_401(headers)
                continue
            except ScrapeError as exc:
                if exc.counts_for_breaker:
                    self.breaker.failure(str(exc), hold=exc.retry_after or 0.0)
                else:
                    self.breaker.release_probe()
                if not self.retry.should_retry(exc, attempt) or self.breaker.state is BreakerState.OPEN:
                    raise
                self.last_failure, self.last_failure_kind = str(exc), exc.kind
                self._set_state(RETRYING, f"{exc} (attempt {attempt} of {self.retry.attempts})")
                await asyncio.sleep(self.retry.delay(exc, attempt))
                continue
            self.breaker.success()
            return result

    async def _attempt(self, request: Request, headers: dict[str, str]) -> tuple[Answer, Decoded]:
        await self._limiter.acquire(self.host, self.name, max_wait=self.interval)
        async with self._slots():
            answer = await fetch(self._client, request.url, timeout=self.timeout, max_body=self.max_body,
                                 headers=headers or None)
        status = answer.status
        if status == 401:
            raise Unauthorized(f"{answer.reason}: the token was refused" if headers
                               else f"{answer.reason}: the target asks for credentials (configure auth:)")
        if status == 403:
            raise ScrapeError("auth", f"{answer.reason}: the credentials are not allowed to read {request.url}")
        if status == 429:
            wait = retry_after(answer.headers)
            self._limiter.block(self.name, wait if wait is not None else self.retry.backoff)
            said = f", Retry-After {format_duration(wait)}" if wait is not None else ""
            raise ScrapeError("rate_limited", f"{answer.reason}{said}", retry_after=wait)
        if status >= 500:
            if self.format.accepts_error_status:
                try:
                    return answer, await self._decode(answer, request)
                except DecodeError:
                    pass  # not a document after all: a plain server error, below
            raise ScrapeError("http_5xx", answer.reason, retry_after=retry_after(answer.headers))
        if status >= 300:
            detail = self.format.error_detail(answer) or _first_line(answer.body)
            raise ScrapeError("config", f"{answer.reason}: configuration error (check the URL){': ' + detail if detail else ''}")
        try:
            return answer, await self._decode(answer, request)
        except DecodeError as exc:
            raise ScrapeError("malformed", str(exc)) from None

    async def _decode(self, answer: Answer, request: Request) -> Decoded:
        """Off the loop when the body is big. Safe: a target has one scrape at a time, so its format's
        state (the previous reading) is only ever touched by one decode."""
        if len(answer.body) <= INLINE_DECODE_MAX:
            return self.format.decode(answer, request)
        return await asyncio.get_running_loop().run_in_executor(self._decoder, self.format.decode, answer, request)

    def internal_error(self, exc: Exception) -> None:
        """A bug met on this target's answer: shown on its line, the other targets carry on."""
        self._set_state(FAIL, f"internal error: {type(exc).__name__}: {exc} (see the log)")

    # ------------------------------------------------------------------ results
    def _record(self, decoded: Decoded, answer: Answer) -> None:
        if not self.enabled:
            return
        for sample in decoded.samples:
            if not math.isfinite(sample.value):
                continue  # NaN/Inf is "no data", never a number on a chart
            source = f"{self.source}:{sample.source_suffix}" if sample.source_suffix else self.source
            self._sink.record(source, sample.metric, sample.value, answer.t, sample.unit)
        if decoded.status is not None:
            self._health(decoded.status, dict(decoded.components))

    def _health(self, status: str, components: dict[str, str]) -> None:
        if status != self.health_status:
            if self.health_status is not None:
                worse = level(status) != "OK"
                self._event(ev.TARGET_HEALTH_CHANGED, "warning" if worse else "info",
                            f"{self.name}: {self.health_status} -> {status}", {"from": self.health_status, "to": status})
            self.health_status = status
        for name, value in components.items():
            old = self.components.get(name)
            if old is not None and old != value:
                worse = level(value) != "OK"
                self._event(ev.TARGET_COMPONENT_CHANGED, "warning" if worse else "info",
                            f"{self.name}: component {name} {old} -> {value}",
                            {"component": name, "from": old, "to": value})
        self.components = components

    def _failed(self, exc: ScrapeError) -> None:
        if exc.kind == "auth":
            state = AUTH_FAILED
        elif exc.kind == "circuit_open" or self.breaker.state is BreakerState.OPEN:
            state = OPEN
        elif exc.kind in ("config", "malformed", "too_large"):
            state = FAIL
        else:
            state = RETRYING
        if exc.kind != "circuit_open":  # "circuit open" says nothing about why it opened
            self.last_failure, self.last_failure_kind = str(exc), exc.kind
        self._set_state(state, str(exc))

    def _set_state(self, state: str, error: str | None) -> None:
        if not self.enabled and state != DISABLED:
            return  # disabled while a scrape was in flight: the operator's word stands
        error = secrets.redact(error) if error else None
        old = self.state
        self.state, self.last_error = state, error
        self._sink.changed()
        if state == old:
            return
        if state == OK and old == PENDING:
            return  # the first good scrape is not news
        text = f": {error}" if error else ""
        self._event(ev.TARGET_STATE, _SEVERITY[state], f"{self.name}: {old} -> {state}{text}",
                    {"from": old, "to": state, "error": error})

    def _breaker_moved(self, old: BreakerState, new: BreakerState, why: str) -> None:
        message = f"{self.name}: circuit {old} -> {new} ({why})"
        if BreakerState.HALF_OPEN in (old, new) and new is not BreakerState.CLOSED:
            # A dead target's probe every open_for (OPEN -> HALF_OPEN -> OPEN) is not news: the
            # history gets the circuit opening and closing, the log every probe.
            log.info("%s", message)
            return
        self._event(ev.TARGET_CIRCUIT, "critical" if new is BreakerState.OPEN else "info", message,
                    {"from": str(old), "to": str(new), "why": why})

    def _event(self, code: EventCode, severity: str, message: str, data: dict[str, Any]) -> None:
        data = {"target": self.name, "track": self.track, "url": self.url, **self.config.labels, **data}
        self._sink.event(code, severity, self.source, message, data)


@asynccontextmanager
async def both(*semaphores: asyncio.Semaphore) -> AsyncIterator[None]:
    """Hold every semaphore (global, then track), always in the same order: no deadlock."""
    for index, semaphore in enumerate(semaphores):
        try:
            await semaphore.acquire()
        except BaseException:
            for held in semaphores[:index]:
                held.release()
            raise
    try:
        yield
    finally:
        for semaphore in semaphores:
            semaphore.release()


def _first_line(body: bytes) -> str:
    text = body[:ERROR_DETAIL_MAX * 2].decode("utf-8", "replace").strip().splitlines()
    return text[0][:ERROR_DETAIL_MAX] if text else ""
