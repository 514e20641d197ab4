"""When may a request go out: our politeness per host, and the server's word per target.

Two limits, with different owners:
- a token bucket per host (`rate_limit:`), our own promise not to flood a host however many
  targets it serves;
- a block per target: a 429's Retry-After holds back the next request of the target that got it,
  and only that target. A 429 answers one request for one resource; RFC 6585 leaves open how the
  server counts (per client, per path, per upstream behind a proxy), so reading it as "the whole
  host:port is closed" let one limited path starve every healthy target beside it (issue 18: a
  1 s target got 73 of ~170 samples). Prometheus likewise fails only the scrape that got the 429.
  A host that limits every path still hears little from us: each of its targets backs off on its
  own Retry-After, and a run of 429s opens that target's circuit (breaker.py).

Why our own (~50 lines) rather than aiolimiter: we also need "blocked until T" and a bounded wait
that fails fast (a target must not queue behind a Retry-After longer than its own interval). Both
are a few lines on top of a bucket, awkward on top of a library's.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from engine.collect.errors import ScrapeError
from engine.units import format_duration


@dataclass
class _Bucket:
    tokens: float
    updated: float = field(default_factory=time.monotonic)


class RateLimiter:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[str, _Bucket] = {}
        self._blocked_until: dict[str, float] = {}  # target -> monotonic; set by a 429's Retry-After

    def _bucket(self, host: str) -> _Bucket:
        bucket = self._buckets.get(host)
        if bucket is None:
            bucket = self._buckets[host] = _Bucket(tokens=float(self.burst))
        return bucket

    async def acquire(self, host: str, target: str, max_wait: float) -> None:
        """Wait up to `max_wait` for `target`'s own block to end and a token of `host`'s bucket;
        ScrapeError("throttled") at once if that would take longer (no request is sent)."""
        bucket = self._bucket(host)
        while True:
            now = time.monotonic()
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            blocked = self._blocked_until.get(target, 0.0) - now
            if blocked <= 0 and bucket.tokens >= 1:
                bucket.tokens -= 1
                return
            wait = blocked if blocked > 0 else (1 - bucket.tokens) / self.rate
            if wait > max_wait:
                why = "waiting out the server's Retry-After" if blocked > 0 else f"over {self.rate:g} requests/s to {host}"
                raise ScrapeError("throttled", f"rate limited: {why}; next request in {format_duration(wait)}")
            max_wait -= wait
            await asyncio.sleep(wait)

    def block(self, target: str, seconds: float) -> None:
        """No request for `target` for `seconds` (a 429's Retry-After); its neighbours carry on."""
        until = time.monotonic() + seconds
        self._blocked_until[target] = max(self._blocked_until.get(target, 0.0), until)
