"""One HTTP request with a hard deadline and a bounded body, on the collect component's shared
client (engine/collect/http1.py).

Per-operation timeouts (connect, each read) never trip on a server that drips one byte every half
second. So the whole exchange runs under `asyncio.timeout`, and the body is abandoned as soon as it
passes `max_body` (Content-Length is checked first, so an honest huge answer is refused before a
byte of it is read).

Every answer carries the wall time it was complete (the time its samples were measured) and the
monotonic time (what rates are computed from).
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import ssl
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from engine.collect.errors import ScrapeError
from engine.collect.http1 import BodyTooLarge, HttpClient, Progress, ProtocolError
from engine.units import format_duration, format_size

if TYPE_CHECKING:  # scrapes use http1; httpx only for make_client's users (the Alertmanager pusher)
    import httpx


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    t: float  # wall time the body was complete: when the values were measured
    mono: float  # the same instant on the monotonic clock
    elapsed: float  # seconds from sending to the complete body

    @property
    def reason(self) -> str:
        try:
            return f"HTTP {self.status} {HTTPStatus(self.status).phrase}"
        except ValueError:
            return f"HTTP {self.status}"


def make_client(
    max_connections: int | None, ssl_context: ssl.SSLContext | None = None, max_keepalive: int | None = None
) -> httpx.AsyncClient:
    """An httpx client (the Alertmanager pusher's) with up to `max_connections` (None: no cap),
    keeping up to `max_keepalive` of them idle (default: all of them). Scrapes use http1.HttpClient.

    trust_env=False: proxy variables in the operator's shell must not reroute scrapes of
    internal targets (a proxy that answers for a dead target would hide it)."""
    import httpx

    keepalive = max_connections if max_keepalive is None else max_keepalive
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=keepalive)
    verify: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
    return httpx.AsyncClient(limits=limits, timeout=None, follow_redirects=True, trust_env=False, verify=verify)


async def fetch(
    client: HttpClient,
    url: str,
    *,
    timeout: float,
    max_body: int,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
) -> Answer:
    """The complete answer, whatever its status; ScrapeError if there is none in time or it is too big."""
    sent = time.monotonic()
    progress = Progress()
    try:
        async with asyncio.timeout(timeout):
            response = await client.request(method, url, headers=headers, data=data, max_body=max_body,
                                             progress=progress)
    except TimeoutError:
        received = progress.received
        partial = f" ({format_size(received)} of the body received)" if received else ""
        raise ScrapeError("timeout", f"no complete answer within {format_duration(timeout)}{partial}") from None
    except BodyTooLarge as exc:
        if exc.declared is not None:
            raise ScrapeError(
                "too_large", f"body of {format_size(exc.declared)} is over the {format_size(max_body)} limit (Content-Length)"
            ) from None
        raise ScrapeError("too_large", f"body over the {format_size(max_body)} limit (stopped reading)") from None
    except (OSError, ProtocolError) as exc:
        raise ScrapeError("connect", describe_transport_error(exc)) from None
    mono = time.monotonic()
    return Answer(response.status, response.headers, response.body, time.time(), mono, mono - sent)


def describe_transport_error(exc: BaseException) -> str:
    """"connection refused" rather than httpx's "All connection attempts failed"."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno is not None:
            name = {
                errno.ECONNREFUSED: "connection refused",
                errno.ECONNRESET: "connection reset by peer",
                errno.EHOSTUNREACH: "host unreachable",
                errno.ENETUNREACH: "network unreachable",
            }.get(cause.errno)
            return name or (cause.strerror or str(cause)).lower()
        cause = cause.__cause__ or cause.__context__
    httpx = sys.modules.get("httpx")  # not loaded: the error cannot be one of httpx's
    if isinstance(exc, ProtocolError) or (httpx is not None and isinstance(exc, httpx.RemoteProtocolError)):
        return f"the server broke the HTTP exchange: {exc}"
    text = str(exc)
    if "Name or service not known" in text or "nodename nor servname" in text:
        return f"unknown host: {text}"
    return text or type(exc).__name__


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    # httpx.Headers (the alertmanager's answers) look names up in any case; ours are lower-case.
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent or unreadable."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
