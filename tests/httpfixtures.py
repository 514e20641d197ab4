"""Real, misbehaving HTTP servers on 127.0.0.1 for tests (and the collect benchmark).

    with HttpFixture() as server:
        server.route("/metrics", Reply(body=text))                   # always this answer
        server.route("/flaky", Reply(500), Reply(500), Reply(body="ok"))  # in turn, the last repeats
        server.route("/slow", Reply(body="x" * 50, drip=0.1))        # one byte every 100 ms
        server.route("/hole", Reply(hang=True))                      # reads the request, never answers
        server.route("/late", Reply(body="ok", delay=0.5))           # a slow but well-formed answer
        server.route("/dyn", lambda request: Reply(body=...))        # computed per request
        url = server.url("/metrics"); server.hits("/metrics")        # what the client sent, and when

An asyncio server on a free port (port 0), run in its own thread so tests that drive the engine
(itself a thread) and plain synchronous tests can use it alike. It is a raw-socket HTTP/1.1
responder — keep-alive, Content-Length bodies — so it is cheap enough to answer a thousand
requests a second on a shared 2-core machine. `python -m tests.httpfixtures --body-file FILE`
(bench/collect.py, in a subprocess) serves one canned answer even more cheaply.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import TypeVar
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain; charset=utf-8"
    drip: float = 0.0  # seconds between body chunks: a slow drip that never trips a read timeout
    drip_size: int = 1
    hang: bool = False  # a black hole: the request is read, no answer ever comes
    delay: float = 0.0  # seconds before a well-formed answer (a slow server)
    declare_length: bool = True  # False: no Content-Length, the body ends when the connection closes

    @property
    def data(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else self.body


def json_reply(document: object, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(document), headers or {}, "application/json")


H = TypeVar("H")


def wait_for_hits(hits: Callable[[str], list[H]], path: str, count: int, timeout: float = 10.0) -> list[H]:
    """Until `hits(path)` has `count` requests (HttpFixture's, or bench/actuator_server.py's)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = hits(path)
        if len(seen) >= count:
            return seen
        time.sleep(0.01)
    raise AssertionError(f"{path}: {len(hits(path))} requests after {timeout}s, expected {count}")


@dataclass(frozen=True)
class Seen:
    """A request as the server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    t: float  # time.monotonic() when its head was complete
    connection: int = -1  # which accepted connection it came on (an index into HttpFixture.connections)


Handler = Callable[[Seen], Reply]


class HttpFixture:
    def __init__(self, host: str = "127.0.0.1", *, default: Reply | None = None, record: bool = True) -> None:
        self.host = host
        self.port = 0
        self.default = default or Reply(404, "no such route")  # for paths without a route
        self.record = record  # False (the benchmark): keep no request log
        self.requests: list[Seen] = []
        self.connections: list[float] = []  # time.monotonic() each connection was accepted
        self.in_flight = 0  # requests read and not yet fully answered
        self.max_in_flight = 0
        self._routes: dict[str, Handler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping: asyncio.Event | None = None
        self._lock = threading.Lock()
        self._handlers: set[asyncio.Task[None]] = set()  # one per open connection
        self._writers: set[asyncio.StreamWriter] = set()

    # ------------------------------------------------------------------ set-up
    def route(self, path: str, *replies: Reply | Handler) -> None:
        """One Reply: always. Several: one per request in turn, the last repeating. Or a handler."""
        if len(replies) == 1 and callable(replies[0]):
            self._routes[path] = replies[0]  # type: ignore[assignment]
            return
        sequence = list(replies)
        counter = itertools.count()

        def in_turn(_request: Seen) -> Reply:
            reply = sequence[min(next(counter), len(sequence) - 1)]
            assert isinstance(reply, Reply)
            return reply

        self._routes[path] = in_turn

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def hits(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def wait_for_hits(self, path: str, count: int, timeout: float = 10.0) -> list[Seen]:
        return wait_for_hits(self.hits, path, count, timeout)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> HttpFixture:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="http-fixture", daemon=True)
        self._thread.start()
        if not self._ready.wait(5):
            raise RuntimeError("the test HTTP server did not start")
        return self

    def stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> HttpFixture:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._connection, self.host, self.port)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stopping.wait()
            server.close()
            # Close open connections (keep-alive clients, black holes) and let their handlers end,
            # rather than leaving them to be cancelled when the loop goes.
            for writer in list(self._writers):
                writer.close()
            if self._handlers:
                await asyncio.wait(self._handlers, timeout=2)

    # ------------------------------------------------------------------ HTTP
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._stopping is not None
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        with self._lock:
            number = len(self.connections)
            self.connections.append(time.monotonic())
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                seen = replace(await self._read_request(head, reader), connection=number)
                if self.record:
                    with self._lock:
                        self.requests.append(seen)
                handler = self._routes.get(seen.path)
                reply = handler(seen) if handler is not None else self.default
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                try:
                    if reply.hang:  # until the client gives up (closes) or the server stops
                        waits = {asyncio.ensure_future(reader.read()), asyncio.ensure_future(self._stopping.wait())}
                        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                        for wait in waits:
                            wait.cancel()
                        return
                    if reply.delay:
                        await asyncio.sleep(reply.delay)
                    await self._write(writer, reply)
                finally:
                    self.in_flight -= 1
                if not reply.declare_length or seen.headers.get("connection", "").lower() == "close":
                    return
        except ConnectionError:
            return
        finally:
            writer.close()
            self._writers.discard(writer)
            self._handlers.discard(task)

    @staticmethod
    async def _read_request(head: bytes, reader: asyncio.StreamReader) -> Seen:
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        body = await reader.readexactly(length) if length else b""
        parts = urlsplit(target)
        return Seen(method, parts.path, parse_qs(parts.query), headers, body, time.monotonic())

    async def _write(self, writer: asyncio.StreamWriter, reply: Reply) -> None:
        data = reply.data
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Status"
        head = [f"HTTP/1.1 {reply.status} {phrase}", f"Content-Type: {reply.content_type}"]
        if reply.declare_length:
            head.append(f"Content-Length: {len(data)}")
        else:
            head.append("Connection: close")
        head += [f"{name}: {value}" for name, value in reply.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if reply.drip <= 0:
            writer.write(data)
            await writer.drain()
            return
        await writer.drain()
        for start in range(0, len(data), reply.drip_size):
            writer.write(data[start : start + reply.drip_size])
            await writer.drain()
            await asyncio.sleep(reply.drip)


class TokenIssuer:
    """A client-credentials token endpoint and the check a protected route makes.

        issuer = TokenIssuer("svc", "s3cret-client", expires_in=300)
        server.route("/token", issuer.token_endpoint)
        server.route("/metrics", issuer.protect(Reply(body=text)))
        issuer.revoke()   # issued tokens stop working (so do expired ones): the next request gets a 401
    """

    def __init__(self, client_id: str, client_secret: str, expires_in: float = 300, prefix: str = "tok") -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.expires_in = expires_in
        self.prefix = prefix
        self.issued: list[str] = []
        self.valid: dict[str, float] = {}  # token -> monotonic expiry
        self.refused = 0  # requests answered 401 by protect()
        self.failing = False  # the endpoint answers 500 while set

    def token_endpoint(self, request: Seen) -> Reply:
        if self.failing:
            return Reply(500, "token service down")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        form = parse_qs(request.body.decode())
        if request.headers.get("authorization") != f"Basic {expected}" or form.get("grant_type") != ["client_credentials"]:
            return json_reply({"error": "invalid_client"}, 401)
        token = f"{self.prefix}-{len(self.issued) + 1}-{'x' * 8}"
        self.issued.append(token)
        self.valid[token] = time.monotonic() + self.expires_in
        return json_reply({"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in})

    def revoke(self) -> None:
        self.valid.clear()

    def protect(self, reply: Reply) -> Handler:
        def handler(request: Seen) -> Reply:
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            if self.valid.get(token, 0.0) < time.monotonic():  # unknown, revoked or expired
                self.refused += 1
                return Reply(401, "bad token", {"WWW-Authenticate": "Bearer"})
            return reply

        return handler


class _SameAnswer(asyncio.Protocol):
    """The benchmark's responder: one canned answer per request head, no parsing beyond counting
    head terminators (GETs without bodies), so a thousand requests a second cost it little."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        self.pending = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.pending += data
        count = self.pending.count(b"\r\n\r\n")
        if count and self.transport is not None:
            self.pending = self.pending[self.pending.rindex(b"\r\n\r\n") + 4 :]
            self.transport.write(self.response * count)


def main() -> None:
    """Serve one body at every path until stdin closes; print the port first (bench/collect.py)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--body-file", required=True)
    parser.add_argument("--content-type", default="text/plain; version=0.0.4")
    args = parser.parse_args()
    with open(args.body_file, "rb") as f:
        body = f.read()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: {args.content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    response = head.encode("latin-1") + body

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _SameAnswer(response), "127.0.0.1", 0, backlog=2048)
        print(server.sockets[0].getsockname()[1], flush=True)
        await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
        server.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
