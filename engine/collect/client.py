"""One HTTP request with a hard deadline and a bounded body, on a shared httpx.AsyncClient.

httpx's own timeouts are per operation (connect, each read): a server that drips one byte every
half second never trips a read timeout. So the whole exchange runs under `asyncio.timeout`, and
the body is read in chunks and abandoned as soon as it passes `max_body` (Content-Length is
checked first, so an honest huge answer is refused before a byte of it is read).

Every answer carries the wall time it was complete (the time its samples were measured) and the
monotonic time (what rates are computed from).
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import math
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus

import httpx

from engine.collect.errors import ScrapeError
from engine.units import format_duration, format_size


@dataclass(frozen=True)
class Answer:
    status: int
    headers: httpx.Headers
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
    """A client with up to `max_connections` (None: no cap), keeping up to `max_keepalive` of them
    idle (default: all of them).

    trust_env=False: proxy variables in the operator's shell must not reroute scrapes of
    internal targets (a proxy that answers for a dead target would hide it)."""
    keepalive = max_connections if max_keepalive is None else max_keepalive
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=keepalive)
    verify: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
    return httpx.AsyncClient(limits=limits, timeout=None, follow_redirects=True, trust_env=False, verify=verify)


class ClientPool:
    """httpx clients in shards of at most SHARD connections, one shard per group of targets.

    Why not one client: httpcore's pool walks all its connections on every request and every
    response (and, while they are idle, quadratically: it counts idle connections inside that
    walk). With 1,000 connections in one pool that walk is most of the CPU of a scrape; with
    pools of 4 it is noise (bench/collect.py). The shards share one TLS context.

    A shard keeps at most SHARD connections idle but does not cap its busy ones: the collect
    component's semaphore caps requests in flight. With more targets than max_concurrency a shard
    serves more than SHARD targets, and a cap there made a healthy target wait for a connection held
    by black holes on its shard, inside its own deadline, then be shown as timing out (drill 3).
    """

    SHARD = 4

    def __init__(self, connections: int) -> None:
        context = ssl.create_default_context()
        count = max(1, math.ceil(connections / self.SHARD))
        self.clients = [make_client(None, context, max_keepalive=self.SHARD) for _ in range(count)]

    def client(self, index: int) -> httpx.AsyncClient:
        return self.clients[index % len(self.clients)]

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


async def fetch(
    client: httpx.AsyncClient,
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
    received = 0
    try:
        async with asyncio.timeout(timeout):
            async with client.stream(method, url, headers=headers, data=data, timeout=timeout) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_body:
                    raise ScrapeError(
                        "too_large",
                        f"body of {format_size(int(declared))} is over the {format_size(max_body)} limit (Content-Length)",
                    )
                chunks: list[bytes] = []
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
                    if received > max_body:
                        raise ScrapeError(
                            "too_large", f"body over the {format_size(max_body)} limit (stopped reading)"
                        )
                    chunks.append(chunk)
                mono = time.monotonic()
                return Answer(response.status_code, response.headers, b"".join(chunks), time.time(), mono, mono - sent)
    except (TimeoutError, httpx.TimeoutException):
        partial = f" ({format_size(received)} of the body received)" if received else ""
        raise ScrapeError("timeout", f"no complete answer within {format_duration(timeout)}{partial}") from None
    except httpx.HTTPError as exc:
        raise ScrapeError("connect", describe_transport_error(exc)) from None


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
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the HTTP exchange: {exc}"
    text = str(exc)
    if "Name or service not known" in text or "nodename nor servname" in text:
        return f"unknown host: {text}"
    return text or type(exc).__name__


def retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
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
