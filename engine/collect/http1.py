"""A lean HTTP/1.1 client for scrapes: keep-alive connections as asyncio Protocols.

Why not httpx here: a scrape through httpx costs ~1 ms of CPU on this machine (request and
response models, httpcore's pool walk, anyio's cancel scopes, h11's event machinery: 60% of the
engine's time at 1,000 targets, bench/collect.py), so one core could not scrape 1,000 targets a
second. A scrape needs little of that: a GET (or the token endpoint's form POST) with a few
headers, a status, headers and a body with a size limit. Parsing the response in `data_received`
costs a few tens of microseconds. The http and demo actuators (a JSON POST/PUT/PATCH/DELETE) and
the http health checks (GET/HEAD, redirects not followed) use it too, so httpx (2.9 MB of RSS with
one client, on top of the console) is loaded only by the rollout gates and the Alertmanager pusher.

What it does: http and https (the caller's SSL context), Content-Length, chunked and read-until-
close bodies, gzip/deflate content (we ask for it: exporters' pages compress ~5x), a form or JSON
body, redirects (up to MAX_REDIRECTS, Authorization dropped on a new origin, 303 -> GET; or not
followed: `follow_redirects=False` returns the 3xx itself), and a pool of idle
connections per origin, each reused for at most KEEPALIVE seconds (servers close idle ones, and
a request on a connection the server closed meanwhile is sent again once on a new one, GET only).
No proxies (a proxy answering for a dead target would hide it), no HTTP/2.

The deadline is the caller's (`asyncio.timeout`): a cancelled request aborts its connection.
Errors: ConnectError (an OSError: no connection, its cause the socket's or TLS's error), OSError
from the socket during the exchange, ProtocolError for a broken answer, BodyTooLarge.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

MAX_REDIRECTS = 20
KEEPALIVE = 5.0  # seconds an idle connection is kept (httpx's default too)
MAX_HEAD = 64 * 1024  # status line and headers
REDIRECTS = frozenset((301, 302, 303, 307, 308))
USER_AGENT = "opsconsole"
_SAFE = "/:@!$&'()*+,;=?~%[]"  # left as written in a URL: reserved characters and escapes


class ProtocolError(Exception):
    """The server broke the HTTP exchange (a malformed head, a connection closed mid-body)."""


class ConnectError(OSError):
    """No connection to the origin (refused, unreachable, unknown host, TLS handshake): nothing
    was sent. Its __cause__ is the socket's error (engine.collect.client.describe_transport_error
    names it in words)."""


class BodyTooLarge(Exception):
    def __init__(self, limit: int, declared: int | None, status: int = 0) -> None:
        super().__init__(f"body over {limit} bytes")
        self.limit, self.declared = limit, declared
        self.status = status  # the answer's status (its head was read)


class Progress:
    """Body bytes received so far, for the caller's message when its deadline passes."""

    __slots__ = ("received",)

    def __init__(self) -> None:
        self.received = 0


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes  # decoded (gzip/deflate undone)
    url: str  # after redirects


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str
    port: int


class _Exchange(asyncio.Protocol):
    """One connection; one request at a time on it. The response is parsed as bytes arrive."""

    def __init__(self, origin: _Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._reset(0, None, False)

    def _reset(self, max_body: int, progress: Progress | None, head_only: bool) -> None:
        self._buffer = bytearray()
        self._max_body, self._progress, self._head_only = max_body, progress, head_only
        self.status = 0
        self.headers: dict[str, str] = {}
        self.keep_alive = False
        self._length: int | None = None  # Content-Length; None with chunked or until close
        self._chunked = False
        self._body: list[bytes] = []
        self._received = 0
        self._in_body = False
        self._chunk_left = -1  # chunked: bytes left in the current chunk (-1: a size line is next)
        self._trailers = False
        self._informational = False
        self.got_bytes = False
        self.done = False

    # ------------------------------------------------------------------ protocol callbacks
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is None or self._waiter.done():
            return
        if self._in_body and self._length is None and not self._chunked:
            self._finish()  # the body was "until the server closes"
        else:
            where = "in the body" if self._in_body else "before the answer's head"
            self._fail(exc or ProtocolError(f"the server closed the connection {where}"))

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            self.closed = True  # bytes nobody asked for: the connection cannot be trusted again
            if self.transport is not None:
                self.transport.close()
            return
        self.got_bytes = True
        try:
            self._feed(data)
        except BodyTooLarge as exc:
            exc.status = self.status
            self._fail(exc)
        except ProtocolError as exc:
            self._fail(exc)

    # ------------------------------------------------------------------ one exchange
    async def exchange(self, request: bytes, max_body: int, progress: Progress | None, head_only: bool) -> None:
        assert self.transport is not None
        self._reset(max_body, progress, head_only)
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        try:
            await self._waiter
        finally:
            self._waiter = None

    def body(self) -> bytes:
        return b"".join(self._body)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _finish(self) -> None:
        self.done = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)

    # ------------------------------------------------------------------ parsing
    def _feed(self, data: bytes) -> None:
        if not self._in_body:
            self._buffer += data
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    raise ProtocolError("the answer's head is over 64 KiB")
                return
            head, data = bytes(self._buffer[:end]), bytes(self._buffer[end + 4 :])
            self._buffer = bytearray()
            if self._head(head):
                if self._informational:  # 100 Continue and friends: the real answer follows
                    self._informational = False
                    self._in_body = False
                    self._feed(data)
                return
        if self._chunked:
            self._buffer += data
            self._dechunk()
        else:
            self._take(data)

    def _head(self, head: bytes) -> bool:
        """Parse the head; True when the exchange is complete without a body."""
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        status = int(parts[1])
        if 100 <= status < 200:
            self._informational = True
            return True
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"a header line without a colon: {line[:80]!r}")
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        self.status, self.headers = status, headers
        connection = headers.get("connection", "").lower()
        self.keep_alive = "close" not in connection and (parts[0] != "HTTP/1.0" or "keep-alive" in connection)
        self._in_body = True
        if self._head_only or status in (204, 304):
            self._finish()
            return True
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
            return False
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise ProtocolError(f"an unreadable Content-Length {declared[:40]!r}")
            self._length = int(declared)
            if self._length > self._max_body:
                raise BodyTooLarge(self._max_body, self._length)
            if self._length == 0:
                self._finish()
                return True
        else:
            self.keep_alive = False  # the body ends when the server closes
        return False

    def _take(self, data: bytes) -> None:
        if not data:
            return
        if self._length is None:
            self._count(len(data))
            self._body.append(data)
            return
        left = self._length - self._received
        piece = data[:left]
        self._count(len(piece))
        self._body.append(piece)
        if len(data) >= left:
            if len(data) > left:
                self.keep_alive = False  # more than was announced: do not reuse
            self._finish()

    def _count(self, size: int) -> None:
        self._received += size
        if self._progress is not None:
            self._progress.received = self._received
        if self._received > self._max_body:
            raise BodyTooLarge(self._max_body, None)

    def _dechunk(self) -> None:
        buffer = self._buffer
        while True:
            if self._trailers:  # after the last chunk: trailer lines, then an empty line
                end = buffer.find(b"\r\n")
                if end < 0:
                    return
                line = bytes(buffer[:end])
                del buffer[: end + 2]
                if not line:
                    self._finish()
                    return
                continue
            if self._chunk_left < 0:
                end = buffer.find(b"\r\n")
                if end < 0:
                    if len(buffer) > 1024:
                        raise ProtocolError("a chunk size line over 1 KiB")
                    return
                size = bytes(buffer[:end]).split(b";", 1)[0].strip()
                del buffer[: end + 2]
                try:
                    self._chunk_left = int(size, 16)
                except ValueError:
                    raise ProtocolError(f"an unreadable chunk size {size[:20]!r}") from None
                if self._chunk_left == 0:
                    self._trailers = True
                    continue
            if len(buffer) < self._chunk_left + 2:
                if len(buffer) > self._chunk_left:
                    return  # the chunk is here, its CRLF is not yet
                piece = bytes(buffer)
                buffer.clear()
                self._chunk_left -= len(piece)
                self._count(len(piece))
                self._body.append(piece)
                return  # the rest of the chunk (and its CRLF) comes later
            piece = bytes(buffer[: self._chunk_left])
            if buffer[self._chunk_left : self._chunk_left + 2] != b"\r\n":
                raise ProtocolError("a chunk not followed by CRLF")
            del buffer[: self._chunk_left + 2]
            if piece:
                self._count(len(piece))
                self._body.append(piece)
            self._chunk_left = -1


class HttpClient:
    """Idle connections kept per origin (at most `max_idle` each); busy ones are not capped here:
    the collect component's semaphores cap the requests in flight."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, max_idle: int = 100) -> None:
        self._ssl = ssl_context  # made at the first https connection when not given
        self._max_idle = max_idle
        self._idle: dict[_Origin, list[_Exchange]] = {}

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json: Any = None,
        max_body: int,
        progress: Progress | None = None,
        follow_redirects: bool = True,
    ) -> Response:
        """`data`: a form body; `json`: a JSON body (not both). The deadline is the caller's."""
        extra = dict(headers or {})
        given = {name.lower() for name in extra}
        body = b""
        if data:
            body = urlencode(data).encode("ascii")
            if "content-type" not in given:
                extra["Content-Type"] = "application/x-www-form-urlencoded"
        elif json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
            if "content-type" not in given:
                extra["Content-Type"] = "application/json"
        for _ in range(MAX_REDIRECTS + 1):
            origin, target = _split(url)
            exchange = await self._send(origin, target, method, extra, body, max_body, progress)
            status = exchange.status
            location = exchange.headers.get("location")
            if status not in REDIRECTS or not location or not follow_redirects:
                return Response(status, exchange.headers, _decoded(exchange, max_body), url)
            next_url = urljoin(url, location)
            if _split(next_url)[0] != origin:
                extra = {k: v for k, v in extra.items() if k.lower() != "authorization"}
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", b""
                extra = {k: v for k, v in extra.items() if k.lower() != "content-type"}
            url = next_url
        raise ProtocolError(f"more than {MAX_REDIRECTS} redirects")

    async def _send(
        self, origin: _Origin, target: str, method: str, headers: dict[str, str], body: bytes, max_body: int,
        progress: Progress | None,
    ) -> _Exchange:
        request = _request_bytes(origin, target, method, headers, body)
        while True:
            connection, reused = self._take(origin), True
            if connection is None:
                connection, reused = await self._connect(origin), False
            try:
                await connection.exchange(request, max_body, progress, method == "HEAD")
            except (OSError, ProtocolError):
                connection.abort()
                if reused and not connection.got_bytes and method in ("GET", "HEAD"):
                    continue  # the server had closed this idle connection: again, on another one
                raise
            except BaseException:  # cancelled (the caller's deadline), too large: never reused
                connection.abort()
                raise
            self._give_back(connection)
            return connection

    def _take(self, origin: _Origin) -> _Exchange | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if not connection.closed and now - connection.idle_since < KEEPALIVE:
                return connection
            connection.abort()
        return None

    def _give_back(self, connection: _Exchange) -> None:
        if not connection.keep_alive or connection.closed:
            connection.abort()
            return
        idle = self._idle.setdefault(connection.origin, [])
        if len(idle) >= self._max_idle:
            connection.abort()
            return
        connection.idle_since = time.monotonic()
        idle.append(connection)

    async def _connect(self, origin: _Origin) -> _Exchange:
        loop = asyncio.get_running_loop()
        tls = origin.scheme == "https"
        if tls and self._ssl is None:
            self._ssl = ssl.create_default_context()
        context = self._ssl if tls else None
        try:
            _, connection = await loop.create_connection(
                lambda: _Exchange(origin), origin.host, origin.port, ssl=context,
                server_hostname=origin.host if tls else None,
            )
        except OSError as exc:  # ssl.SSLError and socket.gaierror are OSErrors too
            raise ConnectError(*exc.args) from exc  # the same errno and words: only its type is new
        return connection

    async def preconnect(self, *urls: str) -> None:
        """Open a connection to each origin of `urls` (once per origin) and keep it idle for the
        next request, which then does not wait for the TCP (and TLS) handshake: on a busy engine
        loop its few iterations took ~100 ms (bench/reaction.py). The connection is new, so it is
        reused for KEEPALIVE seconds at most, as one given back after a request. Raises ConnectError."""
        for origin in dict.fromkeys(_split(url)[0] for url in urls):
            connection = await self._connect(origin)
            connection.keep_alive = True  # nothing was said on it yet: HTTP/1.1's default
            now = time.monotonic()
            idle = self._idle.get(origin, [])
            for old in [c for c in idle if c.closed or now - c.idle_since >= KEEPALIVE]:  # warmed before, unused
                idle.remove(old)
                old.abort()
            self._give_back(connection)

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.abort()
        self._idle.clear()

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _split(url: str) -> tuple[_Origin, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ProtocolError(f"unsupported URL scheme {parts.scheme!r} (http or https)")
    host = parts.hostname
    if not host:
        raise ProtocolError(f"no host in {url!r}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise ProtocolError(f"an unreadable port in {url!r}") from None
    target = quote(parts.path or "/", safe=_SAFE) + (f"?{quote(parts.query, safe=_SAFE)}" if parts.query else "")
    return _Origin(scheme, host, port), target


def _request_bytes(origin: _Origin, target: str, method: str, headers: Mapping[str, str], body: bytes) -> bytes:
    default = 443 if origin.scheme == "https" else 80
    host = f"[{origin.host}]" if ":" in origin.host else origin.host
    host = host if origin.port == default else f"{host}:{origin.port}"
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    given = {name.lower() for name in headers}
    for name, value in (("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate"), ("User-Agent", USER_AGENT)):
        if name.lower() not in given:
            lines.append(f"{name}: {value}")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return head.encode("latin-1") + body


def _decoded(exchange: _Exchange, max_body: int) -> bytes:
    body = exchange.body()
    encoding = exchange.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity") or not body:
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise ProtocolError(f"an unsupported Content-Encoding {encoding!r}")
    wbits = 16 + zlib.MAX_WBITS if encoding != "deflate" else zlib.MAX_WBITS
    try:
        decoder = zlib.decompressobj(wbits)
        try:
            out = decoder.decompress(body, max_body + 1)
        except zlib.error:
            if encoding != "deflate":
                raise
            decoder = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent raw, as some servers do
            out = decoder.decompress(body, max_body + 1)
    except zlib.error as exc:
        raise ProtocolError(f"the {encoding} body does not decompress: {exc}") from None
    if len(out) > max_body:
        raise BodyTooLarge(max_body, None, exchange.status)
    return out
