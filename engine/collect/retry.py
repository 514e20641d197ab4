"""How long to wait before the next attempt: exponential backoff with jitter, or the server's word.

Only ScrapeErrors whose kind is retryable (connect, timeout, 5xx, 429) are retried; the rest are
answers that another attempt would not change (a 404, a malformed body, a refused token), or no
request at all (throttled: our own limit said wait longer than the target's interval).
"""

from __future__ import annotations

import random

from engine.collect.config import RetryConfig
from engine.collect.errors import ScrapeError


class RetryPolicy:
    def __init__(self, config: RetryConfig, rng: random.Random | None = None) -> None:
        self.attempts = config.attempts
        self.backoff = config.backoff
        self.max_backoff = config.max_backoff
        self._rng = rng or random.Random()

    def should_retry(self, error: ScrapeError, attempt: int) -> bool:
        """`attempt` counts from 1: with attempts=3, attempts 1 and 2 may be followed by another."""
        if not error.retryable or attempt >= self.attempts:
            return False
        # A server asking for a longer pause than we would ever back off gets it through the rate
        # limiter (this target's next requests wait for it); this scrape gives up instead of sleeping.
        return error.retry_after is None or error.retry_after <= self.max_backoff

    def delay(self, error: ScrapeError, attempt: int) -> float:
        """backoff·2^(attempt-1), "equal jitter" (half fixed, half random) so targets that failed
        together do not retry in lockstep; never shorter than the server's Retry-After."""
        base = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        wait = base / 2 + self._rng.uniform(0, base / 2)
        if error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait
