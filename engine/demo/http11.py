"""Just enough HTTP/1.1 for the demo: read and write messages with Content-Length bodies.

Why not http.server / http.client: they parse every header block with the email package and add
layers the demo does not need; at 20 requests/s through a router (four message parses per
request) that alone cost about 1.5 % of a core, most of the console's whole CPU budget. These few
functions do the same job for well-formed keep-alive traffic at a fraction of the cost.

Scope, on purpose: Content-Length bodies (chunked requests are refused with 501), keep-alive by
default on HTTP/1.1 (HTTP/1.0 only with "Connection: keep-alive"), `Expect: 100-continue`
answered, limits on line, head and body sizes. Every refusal is an `HttpError` with a status and a
sentence, answered to the client and never a traceback.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import BinaryIO, Protocol

MAX_LINE = 8192
MAX_HEAD = 64 * 1024
MAX_BODY = 1_000_000


class HttpError(Exception):
    """A malformed or unsupported message: answer `status` with this sentence, then close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    method: str
    target: str  # as sent: path and query
    version: str  # "HTTP/1.1"
    headers: dict[str, str]  # names lower-cased
    body: bytes = b""
    client: str = ""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # close the connection after this response


class Readable(Protocol):
    """A socket's buffered reader: socketserver's rfile, socket.makefile("rb"), BinaryIO."""

    def readline(self, size: int = -1, /) -> bytes: ...

    def read(self, size: int = -1, /) -> bytes: ...


def read_head(rfile: Readable) -> tuple[str, dict[str, str]] | None:
    """The start line and headers of the next message; None on a clean end of stream."""
    line = rfile.readline(MAX_LINE + 1)
    while line in (b"\r\n", b"\n"):  # RFC 9112 2.2: ignore empty lines before a request
        line = rfile.readline(MAX_LINE + 1)
    if not line:
        return None
    if len(line) > MAX_LINE:
        raise HttpError(414, f"the start line is over {MAX_LINE} bytes")
    start = line.decode("latin-1").rstrip("\r\n")
    headers: dict[str, str] = {}
    size = len(line)
    while True:
        line = rfile.readline(MAX_LINE + 1)
        size += len(line)
        if size > MAX_HEAD or len(line) > MAX_LINE:
            raise HttpError(431, f"the header block is over {MAX_HEAD} bytes")
        if line in (b"\r\n", b"\n"):
            return start, headers
        if not line:
            raise HttpError(400, "the connection closed inside the header block")
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon or not name or name != name.strip():
            raise HttpError(400, f"malformed header line {line[:60]!r}")
        name = name.lower()
        value = value.strip()
        # Repeated headers are joined, as RFC 9110 5.3 allows for list-valued fields.
        headers[name] = f"{headers[name]}, {value}" if name in headers else value


def body_length(headers: dict[str, str]) -> int:
    if "transfer-encoding" in headers:
        raise HttpError(501, "chunked transfer encoding is not supported; send Content-Length")
    text = headers.get("content-length")
    if text is None:
        return 0
    if not text.isdigit():
        raise HttpError(400, f"bad Content-Length {text!r}")
    length = int(text)
    if length > MAX_BODY:
        raise HttpError(413, f"a body of {length} bytes is over the {MAX_BODY} byte limit")
    return length


def read_body(rfile: Readable, length: int) -> bytes:
    body = rfile.read(length) if length else b""
    if len(body) < length:
        raise HttpError(400, f"the connection closed after {len(body)} of {length} body bytes")
    return body


def parse_request_line(start: str) -> tuple[str, str, str]:
    parts = start.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, f"malformed request line {start[:60]!r}")
    return parts[0], parts[1], parts[2]


def parse_status_line(start: str) -> int:
    parts = start.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise HttpError(502, f"malformed status line {start[:60]!r}")
    return int(parts[1])


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header, formatted at most once a second (it only has second resolution)."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def encode_response(response: Response, *, close: bool, head_only: bool = False, server: str = "") -> bytes:
    lines = [
        f"HTTP/1.1 {response.status} {_phrase(response.status)}",
        f"Date: {http_date()}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
    ]
    if server:
        lines.append(f"Server: {server}")
    lines += [f"{name}: {value}" for name, value in response.headers.items()]
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + response.body


def encode_request(method: str, target: str, host: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def host_header(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ClientConnection:
    """One blocking keep-alive connection to an HTTP/1.1 server; reconnects lazily after close()."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.host_header = host_header(host, port)
        self._sock: socket.socket | None = None
        self._rfile: BinaryIO | None = None
        self.reused = False  # True when the next request goes over an already-used connection

    def request(self, method: str, target: str, headers: dict[str, str], body: bytes = b"") -> Response:
        """Send one request and read its response; raises OSError or HttpError (closing itself)."""
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._rfile = self._sock.makefile("rb")
            self.reused = False
        assert self._rfile is not None
        try:
            self._sock.sendall(encode_request(method, target, self.host_header, headers, body))
            head = read_head(self._rfile)
            if head is None:
                raise ConnectionResetError("the server closed the connection without answering")
            start, response_headers = head
            status = parse_status_line(start)
            payload = b"" if method == "HEAD" else read_body(self._rfile, body_length(response_headers))
        except BaseException:
            self.close()
            raise
        self.reused = True
        close = "close" in response_headers.get("connection", "").lower()
        if close:
            self.close()
        content_type = response_headers.get("content-type", "application/octet-stream")
        return Response(status, payload, content_type, response_headers, close)

    def close(self) -> None:
        if self._rfile is not None:
            self._rfile.close()
            self._rfile = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self.reused = False
