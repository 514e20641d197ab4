"""Bearer tokens for targets: a static `${ENV}` secret, or a token lifecycle (client credentials).

TokenLifecycleManager hands each target its token source; targets with the same token endpoint,
client and scope share one, so a fleet of targets refreshes once, not once per target.

Client credentials (RFC 6749 4.4): POST grant_type=client_credentials to `token_url` with the
client's id and secret as HTTP Basic auth (the form every server must accept). The token is
refreshed `refresh_before` it expires, but never before half its lifetime has passed: at the later
of expiry - refresh_before and issued + lifetime/2. The lead exists to cover a slow or failing
endpoint while the old token still works; a lead as long as the lifetime (5 s tokens with the
default 30 s) would refresh at every use (issue 18: 172 token calls for 74 scrapes). Half the
lifetime keeps both ends: at most two token calls per lifetime (a cost the server chose with its
lifetime), and half the lifetime of margin to retry a failing endpoint. When the clamp applies the
operator hears it once, naming the targets, the lifetime and the setting.

A 401 from a target makes the target ask for one refresh and retry once. A failing token endpoint
is retried with backoff (1 s doubling to 60 s), not at every tick of every target. The first
token, a refresh after a 401, failures and a token that expired before a new one could be had are
events; routine refreshes go to the log (a 5 s token would be 24 events a minute). A token that
expired unused between two scrapes, replaced at the next, is not news and not reported.

Every token and secret is registered with engine.secrets as soon as it is known, so it is masked
wherever it might surface (an exception text, an event, the log).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote_plus

from engine import secrets
from engine.collect.client import fetch
from engine.collect.config import Auth, BearerAuth, ClientCredentialsAuth
from engine.collect.errors import ScrapeError
from engine.collect.http1 import HttpClient
from engine.units import format_duration

TOKEN_BODY_LIMIT = 64 * 1024
DEFAULT_EXPIRES_IN = 3600.0  # a token response without expires_in: assume an hour
MAX_FAILURE_BACKOFF = 60.0
MIN_LIFETIME_SHARE = 0.5  # a token is used for at least this share of its lifetime before a refresh

log = logging.getLogger(__name__)

Emit = Callable[[str, str, dict[str, Any] | None], None]  # (severity, message, event data)


class TokenSource(Protocol):
    refreshable: bool

    async def headers(self) -> dict[str, str]:
        """The Authorization header to send; ScrapeError("auth") if no token can be had."""

    async def refresh_after_401(self, sent: dict[str, str]) -> None:
        """The target refused the token in `sent`: get a new one (once, even if many ask)."""


class StaticBearer:
    refreshable = False

    def __init__(self, config: BearerAuth) -> None:
        secrets.register(config.token)
        self._headers = {"Authorization": f"Bearer {config.token}"}

    async def headers(self) -> dict[str, str]:
        return self._headers

    async def refresh_after_401(self, sent: dict[str, str]) -> None:
        raise ScrapeError("auth", "HTTP 401: the static bearer token was refused (check the secret)")


class ClientCredentials:
    refreshable = True

    def __init__(self, config: ClientCredentialsAuth, client: HttpClient, emit: Emit) -> None:
        secrets.register(config.client_secret)
        # RFC 6749 2.3.1: id and secret form-encoded, then HTTP Basic. The header reveals the
        # secret to anyone who decodes it, so it is registered as a secret too.
        pair = f"{quote_plus(config.client_id)}:{quote_plus(config.client_secret)}"
        self._basic = "Basic " + base64.b64encode(pair.encode()).decode()
        secrets.register(self._basic.removeprefix("Basic "))
        self.config = config
        self._client = client
        self._emit = emit
        self._token: str | None = None
        self._expires_at = 0.0  # monotonic
        self._refresh_at = 0.0  # monotonic: refresh_time()
        self.targets: list[str] = []  # who uses this token: named when it is reported
        self._clamp_reported = False
        self._lock = asyncio.Lock()
        self._failures = 0
        self._retry_at = 0.0  # monotonic: no call to the endpoint before this after a failure
        self._last_error = ""
        self._expiry_reported = False

    @property
    def label(self) -> str:
        return f"token endpoint {self.config.token_url}"

    async def headers(self) -> dict[str, str]:
        if self._token is None or time.monotonic() >= self._refresh_at:
            await self._refresh("expiring" if self._token else "first use", stale=self._token)
        assert self._token is not None
        return {"Authorization": f"Bearer {self._token}"}

    async def refresh_after_401(self, sent: dict[str, str]) -> None:
        stale = sent.get("Authorization", "").removeprefix("Bearer ") or None
        await self._refresh("refused by a target (HTTP 401)", stale=stale, forced=True)

    async def _refresh(self, reason: str, *, stale: str | None, forced: bool = False) -> None:
        async with self._lock:
            now = time.monotonic()
            fresh = self._token is not None and self._token != stale
            if fresh and (forced or now < self._refresh_at):
                return  # another target refreshed it while we waited for the lock
            if now < self._retry_at:
                if self._token is not None and now < self._expires_at and not forced:
                    return  # still valid: keep using it until the endpoint answers again
                self._report_expiry(now)
                raise ScrapeError(
                    "auth", f"{self.label} failed ({self._last_error}); next try in {format_duration(self._retry_at - now)}"
                )
            sent = time.monotonic()
            try:
                token, expires_in = await self._request()
            except ScrapeError as exc:
                self._failures += 1
                backoff = min(MAX_FAILURE_BACKOFF, 2.0 ** (self._failures - 1))
                self._retry_at = time.monotonic() + backoff
                self._last_error = str(exc)
                self._emit("warning", f"{self.label}: token refresh failed: {exc}", None)
                if self._token is not None and time.monotonic() < self._expires_at and not forced:
                    return  # the old token is still valid: keep going, try again after the backoff
                self._report_expiry(time.monotonic())
                raise ScrapeError("auth", f"{self.label}: {exc}") from None
            secrets.register(token)
            recovered = self._failures > 0 or self._expiry_reported
            # The lifetime runs from when we asked: the server's clock started before its answer came.
            self._token, self._expires_at = token, sent + expires_in
            self._refresh_at = refresh_time(sent, expires_in, self.config.refresh_before)
            self._failures, self._retry_at, self._expiry_reported = 0, 0.0, False
            message = f"{self.label}: token refreshed ({reason}), valid for {format_duration(expires_in)}"
            if reason == "expiring" and not recovered:
                log.info("%s", message)  # routine: the history gets the first token, 401s and trouble
            else:
                self._emit("info", message, None)
            self._check_lead(expires_in)

    def _report_expiry(self, now: float) -> None:
        """Once per token: it expired and no new one could be had (not: it expired unused between scrapes)."""
        if self._token is not None and now >= self._expires_at and not self._expiry_reported:
            self._expiry_reported = True
            self._emit("warning", f"{self.label}: token expired and no new one could be had ({self._last_error})", None)

    def _check_lead(self, lifetime: float) -> None:
        """Say once that refresh_before does not fit the tokens this endpoint issues."""
        lead = self.config.refresh_before
        if self._clamp_reported or lead <= lifetime * (1 - MIN_LIFETIME_SHARE):
            return
        self._clamp_reported = True
        who = f"target{'s' if len(self.targets) != 1 else ''} {', '.join(self.targets) or '(none yet)'}"
        every = format_duration(lifetime * MIN_LIFETIME_SHARE)
        setting = f"refresh_before {format_duration(lead)}"
        why = f"shorter than {setting}, which would refresh at every use" if lead >= lifetime \
            else f"and {setting} would refresh before half of it is used"
        self._emit(
            "warning",
            f"{self.label} ({who}): its tokens live {format_duration(lifetime)}, {why}; refreshing at half "
            f"the lifetime (every {every}) instead (set refresh_before to {every} or less to follow it)",
            {"targets": list(self.targets), "lifetime_s": lifetime, "refresh_before_s": lead},
        )

    async def _request(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self.config.scope:
            form["scope"] = self.config.scope
        headers = {"Authorization": self._basic, "Accept": "application/json"}
        answer = await fetch(
            self._client, self.config.token_url, method="POST", data=form, headers=headers,
            timeout=self.config.timeout, max_body=TOKEN_BODY_LIMIT,
        )
        if answer.status != 200:
            raise ScrapeError("auth", answer.reason)
        try:
            document = json.loads(answer.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ScrapeError("auth", f"the token response is not JSON: {exc}") from None
        token = document.get("access_token") if isinstance(document, dict) else None
        if not isinstance(token, str) or not token:
            raise ScrapeError("auth", "the token response has no access_token")
        expires_in = document.get("expires_in", DEFAULT_EXPIRES_IN)
        if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)) or expires_in <= 0:
            raise ScrapeError("auth", f"the token response has an unusable expires_in {expires_in!r}")
        return token, float(expires_in)


def refresh_time(issued: float, lifetime: float, refresh_before: float) -> float:
    """When a token issued at `issued` for `lifetime` seconds is replaced: `refresh_before` ahead of
    its expiry, but not before MIN_LIFETIME_SHARE of its lifetime is used (module docstring)."""
    return max(issued + lifetime - refresh_before, issued + lifetime * MIN_LIFETIME_SHARE)


class TokenLifecycleManager:
    """One token source per distinct auth config; targets sharing credentials share a token."""

    def __init__(self, client: HttpClient, emit: Callable[[str, str, str, dict[str, Any] | None], None]) -> None:
        self._client = client
        self._emit = emit  # (source, severity, message, data)
        self._sources: dict[tuple[str, ...], ClientCredentials] = {}

    def source_for(self, auth: Auth | None, target: str | None = None) -> TokenSource | None:
        """`target`: the name of the target asking, named in what the token source reports."""
        if auth is None:
            return None
        if isinstance(auth, BearerAuth):
            return StaticBearer(auth)
        key = (auth.token_url, auth.client_id, auth.scope)
        found = self._sources.get(key)
        if found is None:
            source = f"auth:{auth.client_id}"
            found = self._sources[key] = ClientCredentials(
                auth, self._client, lambda severity, message, data: self._emit(source, severity, message, data)
            )
        if target is not None and target not in found.targets:
            found.targets.append(target)
        return found
