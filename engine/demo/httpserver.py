"""A quiet, stoppable, threaded HTTP/1.1 server: the base of the version servers and the router.

Why a thread per connection (stdlib socketserver) rather than per request: the demo's clients
(the load generator and the router's pool) hold a few keep-alive connections, so a handful of
long-lived threads serve all traffic and none is created per request. The messages themselves are
read and written by http11.py, which is where most of the CPU saving is.

A subclass implements `respond(request) -> Response`; this module adds:
- silence: nothing on stderr (it would tear the TUI); failures go to the "engine.demo" logger;
- a clean stop: connections are tracked, shut down and their threads joined, so stopping the demo
  leaves no thread behind even while clients hold idle keep-alive connections;
- a bug in `respond` answers 500 and is logged with its traceback, and the server keeps serving.
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
from typing import Any

from engine.demo.http11 import (
    HttpError,
    Request,
    Response,
    body_length,
    encode_response,
    parse_request_line,
    read_body,
    read_head,
)

log = logging.getLogger("opsconsole.demo")

JOIN_TIMEOUT = 2.0
SERVER_NAME = "opsconsole-demo"


def format_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def json_response(status: int, document: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(document).encode(), "application/json", headers or {})


class ConnectionHandler(socketserver.StreamRequestHandler):
    """Reads requests off one keep-alive connection until it closes, answering each in turn."""

    server: QuietServer
    timeout = 60  # an idle keep-alive connection ends after a minute (clients reconnect)
    disable_nagle_algorithm = True

    def handle(self) -> None:
        while True:
            try:
                request = self._read_request()
            except HttpError as exc:
                self._send(json_response(exc.status, {"error": str(exc)}), close=True)
                return
            except TimeoutError:
                return  # idle too long
            if request is None:
                return
            try:
                response = self.server.respond(request)
            except Exception:
                log.exception("demo %s: error answering %s %s", self.server.name, request.method, request.target)
                response = json_response(500, {"error": "internal error in the demo (see the log)"})
                response.close = True
            close = response.close or not request.keep_alive or self.server.stopping.is_set()
            self._send(response, close=close, head_only=request.method == "HEAD")
            if close:
                return

    def _read_request(self) -> Request | None:
        head = read_head(self.rfile)
        if head is None:
            return None
        start, headers = head
        method, target, version = parse_request_line(start)
        length = body_length(headers)
        if length and headers.get("expect", "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = read_body(self.rfile, length)
        return Request(method, target, version, headers, body, self.client_address[0])

    def _send(self, response: Response, *, close: bool, head_only: bool = False) -> None:
        self.wfile.write(encode_response(response, close=close, head_only=head_only, server=SERVER_NAME))


class QuietServer(socketserver.TCPServer):
    """Serves each connection in its own named thread; `start()` / `stop()` own the lifecycle."""

    allow_reuse_address = True  # restart on the same port despite TIME_WAIT; still fails if in use
    request_queue_size = 64

    def __init__(self, host: str, port: int, *, name: str) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.name = name
        self.stopping = threading.Event()  # set first on stop: handlers cut injected sleeps short
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        self._serve_thread: threading.Thread | None = None
        super().__init__((host, port), ConnectionHandler)  # binds and listens; OSError propagates

    def respond(self, request: Request) -> Response:
        raise NotImplementedError

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._serve_thread = threading.Thread(target=self._accept_loop, name=f"demo-{self.name}", daemon=True)
        self._serve_thread.start()

    def _accept_loop(self) -> None:
        """Block in accept() until stop(). Why not serve_forever(): it polls (wakes up every
        poll_interval even when idle); a blocking accept costs nothing while nobody connects."""
        while not self.stopping.is_set():
            try:
                request, client_address = self.socket.accept()
            except OSError as exc:
                if self.stopping.is_set():
                    return
                # EMFILE and friends: say so, back off briefly instead of spinning.
                log.warning("demo %s: cannot accept a connection: %s", self.name, exc)
                self.stopping.wait(0.5)
                continue
            if self.stopping.is_set():
                request.close()
                return
            self.process_request(request, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"demo-{self.name}-conn",
            daemon=True,  # a safety net only: stop() joins every thread it started
        )
        with self._lock:
            self._connections.add(request)
            self._workers.add(worker)
        worker.start()

    def _serve_connection(self, request: socket.socket, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._lock:
                self._connections.discard(request)
                self._workers.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints a traceback on stderr. A client dropping its connection is routine.
        log.debug("demo %s: connection from %s ended: ", self.name, client_address, exc_info=True)

    def _wake_accept(self) -> None:
        """Unblock the accept loop: shutdown() of a listening socket does it on Linux; elsewhere a
        connection to ourselves does (the loop sees `stopping` and closes it)."""
        try:
            self.socket.shutdown(socket.SHUT_RDWR)
        except OSError as exc:
            log.debug("demo %s: shutdown of the listening socket: %s", self.name, exc)
        assert self._serve_thread is not None
        self._serve_thread.join(0.05)
        if self._serve_thread.is_alive():
            try:
                host, port = self.server_address[:2]
                socket.create_connection((str(host), int(port)), timeout=1.0).close()
            except OSError as exc:
                log.debug("demo %s: waking the accept loop: %s", self.name, exc)

    def begin_stop(self) -> None:
        """Ask in-flight handlers to finish now (injected latency is cut short)."""
        self.stopping.set()

    def stop(self) -> None:
        """Stop accepting, close every connection, join every thread. Idempotent."""
        self.stopping.set()
        if self._serve_thread is not None:
            self._wake_accept()
            self._serve_thread.join(JOIN_TIMEOUT)
            self._serve_thread = None
        self.server_close()
        with self._lock:
            connections, workers = list(self._connections), list(self._workers)
        for connection in connections:
            # Why shutdown, not close: it wakes the handler thread blocked reading the next request.
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError as exc:  # already closed by the peer: nothing left to wake
                log.debug("demo %s: shutdown of a connection: %s", self.name, exc)
        for worker in workers:
            worker.join(JOIN_TIMEOUT)
            if worker.is_alive():
                log.warning("demo %s: a connection thread did not stop within %.0fs", self.name, JOIN_TIMEOUT)
