"""The scrape client (engine/collect/http1.py) against real sockets on 127.0.0.1: keep-alive reuse,
the body framings servers use, compression, redirects, a connection the server closed while idle,
and the body limit."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable

import pytest

from engine.collect import http1
from engine.collect.http1 import BodyTooLarge, HttpClient, ProtocolError

Answer = Callable[[bytes], list[bytes]]  # request head -> the pieces to write, each flushed on its own


class RawServer:
    """Answers each request head with `answer(head)`; counts the connections it accepted."""

    def __init__(self, answer: Answer, close_after: bool = False) -> None:
        self.answer, self.close_after = answer, close_after
        self.connections = 0
        self.closed = 0  # connections that ended (the client closed them, or close_after)
        self.heads: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                self.heads.append(head)
                for piece in self.answer(head):
                    writer.write(piece)
                    await writer.drain()
                    await asyncio.sleep(0)  # each piece its own packet, as often as the kernel lets it
                if self.close_after:  # like a server whose idle timeout passed: no "Connection: close"
                    return
        finally:
            self.closed += 1
            writer.close()

    def url(self, path: str = "/") -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}{path}"


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    client = HttpClient()
    yield client
    await client.aclose()


async def serving(answer: Answer, close_after: bool = False) -> RawServer:
    raw = RawServer(answer, close_after)
    raw.server = await asyncio.start_server(raw._serve, "127.0.0.1", 0)
    return raw


def ok(body: bytes, *headers: str) -> list[bytes]:
    head = "\r\n".join(("HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *headers))
    return [head.encode() + b"\r\n\r\n" + body]


async def test_one_connection_serves_every_request(client: HttpClient) -> None:
    server = await serving(lambda head: ok(b"up 1\n"))
    for _ in range(5):
        response = await client.request("GET", server.url("/metrics"), max_body=1000)
        assert (response.status, response.body) == (200, b"up 1\n")
    assert server.connections == 1


async def test_chunked_gzip_body_in_small_pieces_is_decoded(client: HttpClient) -> None:
    text = b"".join(b"requests_total{code=\"200\"} %d\n" % i for i in range(200))
    packed = gzip.compress(text)

    def chunked(head: bytes) -> list[bytes]:
        pieces = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n"]
        for start in range(0, len(packed), 100):
            chunk = packed[start : start + 100]
            pieces += [b"%x\r\n" % len(chunk), chunk[:37], chunk[37:] + b"\r\n"]
        return [*pieces, b"0\r\n", b"\r\n"]

    server = await serving(chunked)
    for _ in range(2):  # the connection is reused after a chunked body
        response = await client.request("GET", server.url(), max_body=100_000)
        assert response.body == text
    assert server.connections == 1
    assert b"accept-encoding: gzip" in server.heads[0].lower()


async def test_a_relative_redirect_is_followed(client: HttpClient) -> None:
    def answer(head: bytes) -> list[bytes]:
        if head.startswith(b"GET /old "):
            return [b"HTTP/1.1 301 Moved\r\nLocation: /new?x=1\r\nContent-Length: 0\r\n\r\n"]
        return ok(b"here")

    server = await serving(answer)
    response = await client.request("GET", server.url("/old"), max_body=100)
    assert (response.status, response.body, response.url) == (200, b"here", server.url("/new?x=1"))


async def test_a_connection_the_server_closed_while_idle_is_replaced(client: HttpClient) -> None:
    server = await serving(lambda head: ok(b"fine"), close_after=True)
    for _ in range(3):
        assert (await client.request("GET", server.url(), max_body=100)).body == b"fine"
        await asyncio.sleep(0.01)
    assert server.connections == 3


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("not within 2 s")


async def test_a_preconnected_connection_carries_the_next_request(client: HttpClient) -> None:
    """An actuator's verb finds its connection open (the canary warms it while a rollout runs)."""
    server = await serving(lambda head: ok(b"done"))
    await client.preconnect(server.url("/"))
    await until(lambda: server.connections == 1)
    assert server.heads == []  # nothing was sent: opening is all it does
    response = await client.request("POST", server.url("/canary/rollback"), json={"weight": 0}, max_body=100)
    assert (response.status, response.body) == (200, b"done")
    assert server.connections == 1 and server.heads[0].startswith(b"POST /canary/rollback ")


async def test_warming_again_closes_the_connections_it_warmed_before(client: HttpClient,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Warmed every few seconds for as long as a rollout runs: never a pile of idle sockets."""
    monkeypatch.setattr(http1, "KEEPALIVE", 0.05)
    server = await serving(lambda head: ok(b"done"))
    for _ in range(5):
        await client.preconnect(server.url("/"))
        await asyncio.sleep(0.06)  # older than KEEPALIVE: the next warm-up replaces it
    await until(lambda: server.closed == 4)
    assert server.connections == 5


async def test_the_body_limit_declared_and_streamed(client: HttpClient) -> None:
    declared = await serving(lambda head: ok(b"x" * 500))
    with pytest.raises(BodyTooLarge) as too_big:
        await client.request("GET", declared.url(), max_body=100)
    assert too_big.value.declared == 500

    streamed = await serving(lambda head: [b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", b"y" * 300])
    with pytest.raises(BodyTooLarge) as too_long:
        await client.request("GET", streamed.url(), max_body=100)
    assert too_long.value.declared is None


async def test_a_body_ending_at_close_is_complete(client: HttpClient) -> None:
    server = await serving(lambda head: [b"HTTP/1.0 200 OK\r\n\r\n", b"part one, ", b"part two"], close_after=True)
    assert (await client.request("GET", server.url(), max_body=100)).body == b"part one, part two"


async def test_not_http_is_a_protocol_error(client: HttpClient) -> None:
    server = await serving(lambda head: [b"SSH-2.0-OpenSSH_9.6\r\n\r\n"])
    with pytest.raises(ProtocolError, match="not an HTTP/1.x status line"):
        await client.request("GET", server.url(), max_body=100)
