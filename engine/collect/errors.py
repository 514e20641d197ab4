"""Why a scrape failed, as a kind the pipeline can act on and a sentence the operator reads.

Kinds decide what happens next:
- retryable (connect, timeout, http_5xx, rate_limited): retried with backoff, counted by the breaker.
  rate_limited is the server's 429: one is the target asking us to slow down (honoured through its
  Retry-After), but answers of nothing but 429 are no data either, so they open the circuit like
  any other run of failures instead of flapping between RETRYING and a lucky OK;
- throttled: no request was sent, our own limits held it back (the host's token bucket, or the
  target's Retry-After still running): not retried within the scrape, not counted by the breaker;
- auth: the token was refused or could not be obtained: AUTH FAILED, not retried blindly;
- config (4xx other than 401/403/429): the URL or query is wrong: shown as a configuration error;
- malformed, too_large: the answer came but cannot be used: a named error and a gap;
- circuit_open: no request was sent because the breaker is open.
"""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "connect", "timeout", "http_5xx", "rate_limited", "throttled", "auth", "config", "malformed", "too_large",
    "circuit_open",
]
RETRYABLE: frozenset[str] = frozenset({"connect", "timeout", "http_5xx", "rate_limited"})
NOT_COUNTED_BY_BREAKER: frozenset[str] = frozenset({"throttled", "auth", "circuit_open"})


class ScrapeError(Exception):
    """One failed attempt. str() is the operator's sentence, e.g. "HTTP 503 Service Unavailable"."""

    def __init__(self, kind: ErrorKind, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after  # seconds the server asked us to wait (429/503 Retry-After)

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    @property
    def counts_for_breaker(self) -> bool:
        return self.kind not in NOT_COUNTED_BY_BREAKER


class DecodeError(Exception):
    """A body that cannot be read in the target's format; str() names the place, e.g.
    "json: line 1 column 7: Expecting value"."""


class Unauthorized(ScrapeError):
    """HTTP 401: the token was refused. A refreshable token gets one refresh and one more try."""

    def __init__(self, message: str) -> None:
        super().__init__("auth", message)
