"""Push opsconsole's alerts to Alertmanager (API v2), reading them from the engine's Snapshot.

Every `check_every` the snapshot's alerts are compared with what each Alertmanager last accepted:
a newly firing alert or a resolved one is pushed at once; while nothing changes, the firing set is
re-sent every `resend_every` (Alertmanager expects that). Silenced or inhibited alerts are not
pushed (the operator muted them here) unless `include_silenced`; muting one that was pushed
resolves it there.

A push is retried with backoff for connection errors, timeouts, 5xx and 429 (`retry`, the same
policy as collection); a 4xx other than 429 means the request is wrong and is not retried. A
failed push loses nothing: the next attempt sends the current state, including every resolution
not yet accepted, after a pause that grows up to `resend_every`. A failure is a warning event
(once per distinct reason) and its end is an info event.

On stop or reload nothing is resolved: firing alerts carry an endsAt (4 x resend_every), so
Alertmanager resolves them itself if no engine re-sends them, and resolving them here would page
"resolved" for alerts that are still true on every restart.

Reading the Snapshot, not the alert engine's internals, keeps this independent of engine/alerts/.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine import eventcodes as ev
from engine.alertmanager.config import AlertmanagerConfig
from engine.alertmanager.payload import Payload, alert_key, base_labels, firing_payload, resolved_payload
from engine.collect.client import describe_transport_error, make_client, retry_after
from engine.collect.errors import ScrapeError
from engine.collect.retry import RetryPolicy
from engine.component import EngineContext
from engine.snapshot import AlertView, Snapshot

if TYPE_CHECKING:  # loaded by make_client when the pusher runs: a config without it never loads httpx
    import httpx

log = logging.getLogger("opsconsole.alertmanager")

API_PATH = "/api/v2/alerts"
SOURCE = "alertmanager"
Key = tuple[str, str]


@dataclass
class _Receiver:
    """One Alertmanager instance and what it has accepted."""

    url: str
    accepted: dict[Key, Payload] = field(default_factory=dict)  # firing alerts as last accepted
    resolving: dict[Key, tuple[Payload, float]] = field(default_factory=dict)  # (as sent, resolved at)
    last_push: float = float("-inf")  # monotonic
    next_try: float = float("-inf")  # monotonic: after a failure, not before this
    failures: int = 0
    failing: str | None = None  # the last failure's reason, while failing


class AlertmanagerPusher:
    name = "alertmanager"

    def __init__(self, config: AlertmanagerConfig, snapshot: Callable[[], Snapshot]) -> None:
        self.config = config
        self.snapshot = snapshot
        self.receivers = [_Receiver(url.rstrip("/") + API_PATH) for url in config.urls]
        self.labels = base_labels(config.labels)
        self.retry = RetryPolicy(config.retry)
        self.headers = {"content-type": "application/json", **config.headers}

    async def run(self, ctx: EngineContext) -> None:
        async with make_client(len(self.receivers) * 2) as client:
            while True:
                await self.tick(ctx, client)
                await asyncio.sleep(self.config.check_every)

    async def tick(self, ctx: EngineContext, client: httpx.AsyncClient) -> None:
        now, mono = time.time(), time.monotonic()
        firing = self._firing(self.snapshot().alerts)
        pushes = []
        for receiver in self.receivers:
            if self._due(receiver, firing, now, mono):
                sending = {
                    key: firing_payload(view, self.labels, now, self.config.resend_every, self.config.generator_url)
                    for key, view in firing.items()
                }
                pushes.append(self._push(ctx, client, receiver, sending, mono))
        if pushes:
            await asyncio.gather(*pushes)

    # ------------------------------------------------------------------------ what to send
    def _firing(self, alerts: tuple[AlertView, ...]) -> dict[Key, AlertView]:
        return {
            alert_key(a): a for a in alerts
            if a.state == "firing" and (self.config.include_silenced or not a.silenced)
        }

    def _due(self, receiver: _Receiver, firing: dict[Key, AlertView], now: float, mono: float) -> bool:
        """Whether `receiver` needs a push now; notes the alerts that resolved since it last accepted one."""
        for key in receiver.accepted.keys() - firing.keys():  # resolved since the last accepted push
            receiver.resolving.setdefault(key, (receiver.accepted[key], now))
        for key in firing.keys() & receiver.resolving.keys():  # firing again before we told it
            del receiver.resolving[key]
        changed = firing.keys() != receiver.accepted.keys() or bool(receiver.resolving)
        resend_due = bool(firing) and mono - receiver.last_push >= self.config.resend_every
        return (changed or resend_due) and mono >= receiver.next_try

    # ------------------------------------------------------------------------ sending
    async def _push(self, ctx: EngineContext, client: httpx.AsyncClient, receiver: _Receiver,
                    sending: dict[Key, Payload], mono: float) -> None:
        batch = [*sending.values(), *(resolved_payload(sent, at) for sent, at in receiver.resolving.values())]
        try:
            await self._post_with_retries(client, receiver.url, batch)
        except ScrapeError as exc:
            receiver.failures += 1
            pause = min(self.config.resend_every, self.config.retry.backoff * 2 ** receiver.failures)
            receiver.next_try = time.monotonic() + pause
            reason = str(exc)
            if reason != receiver.failing:
                ctx.event(ev.PUSH_FAILING, "warning", SOURCE,
                          f"alertmanager {receiver.url}: push of {len(batch)} alert(s) failed: {reason}; "
                          "retrying, nothing is dropped", {"url": receiver.url, "error": reason})
            receiver.failing = reason
            return
        receiver.accepted, receiver.resolving = sending, {}
        receiver.last_push, receiver.failures, receiver.next_try = mono, 0, float("-inf")
        if receiver.failing is not None:
            ctx.event(ev.PUSH_RECOVERED, "info", SOURCE, f"alertmanager {receiver.url}: pushes work again",
                      {"url": receiver.url})
            receiver.failing = None

    async def _post_with_retries(self, client: httpx.AsyncClient, url: str, batch: list[Payload]) -> None:
        body = json.dumps(batch).encode()
        attempt = 1
        while True:
            try:
                await self._post(client, url, body)
                return
            except ScrapeError as exc:
                if not self.retry.should_retry(exc, attempt):
                    raise
                await asyncio.sleep(self.retry.delay(exc, attempt))
                attempt += 1

    async def _post(self, client: httpx.AsyncClient, url: str, body: bytes) -> None:
        import httpx  # loaded already: make_client's

        timeout = self.config.timeout
        try:
            async with asyncio.timeout(timeout):
                response = await client.post(url, content=body, headers=self.headers, timeout=timeout)
        except (TimeoutError, httpx.TimeoutException):
            raise ScrapeError("timeout", f"no answer within {timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise ScrapeError("connect", describe_transport_error(exc)) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        said = response.text.strip().replace("\n", " ")[:200]
        what = f"HTTP {status}" + (f": {said}" if said else "")
        if status == 429:
            raise ScrapeError("rate_limited", what, retry_after=retry_after(response.headers))
        raise ScrapeError("http_5xx" if status >= 500 else "config", what)
