"""A weighted HTTP router on 127.0.0.1 for tests: the load balancer of examples/prometheus/.

    with WeightRouter(stable_port, canary_port) as router:     # GET / -> one of the two backends
        LoadGenerator(router.port, rate=40, seed=1)             # tests/nginxrig.py
        router.weights                                          # every weight the actuator set

    GET  /*       forwarded to the canary with probability weight/100 (seeded), else to stable;
                  the backend's status and body come back as they are, 502 if it does not answer
    POST /weight  {"canary": 25}: the canary's share from now on (the example's http actuator)
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from random import Random
from typing import Any, Self


class WeightRouter:
    def __init__(self, stable_port: int, canary_port: int, seed: int = 7) -> None:
        self.ports = {"stable": stable_port, "canary": canary_port}
        self.weight = 0
        self.weights: list[int] = []  # every weight set through POST /weight, in order
        self._rng = Random(seed)
        self._lock = threading.Lock()
        self._local = threading.local()  # one keep-alive connection per backend and thread
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="weight-router", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _pick(self) -> str:
        with self._lock:
            return "canary" if self._rng.random() * 100 < self.weight else "stable"

    def _set(self, document: Any) -> int:
        weight = int(document["canary"])
        if not 0 <= weight <= 100:
            raise ValueError(f"canary weight must be 0..100, got {weight}")
        with self._lock:
            self.weight = weight
            self.weights.append(weight)
        return weight

    def _forward(self, path: str) -> tuple[int, bytes]:
        version = self._pick()
        conns = self._local.__dict__.setdefault("conns", {})
        for attempt in (1, 2):  # a kept-alive connection the backend closed is retried once
            conn = conns.get(version) or http.client.HTTPConnection("127.0.0.1", self.ports[version], timeout=5)
            conns[version] = conn
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                return response.status, response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conns.pop(version, None)
                if attempt == 2:
                    return 502, f"router: {version} did not answer".encode()
        return 502, b"router: unreachable"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        router = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tens of requests a second."""

            def reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self.reply(*router._forward(self.path))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if self.path != "/weight":
                    self.reply(404, b"not found")
                    return
                try:
                    weight = router._set(json.loads(self.rfile.read(length) or b"{}"))
                except (ValueError, KeyError, TypeError) as exc:
                    self.reply(400, f"bad weight request: {exc!r}; send {{\"canary\": 0..100}}".encode())
                    return
                self.reply(200, json.dumps({"canary": weight}).encode())

        return Handler

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
