"""The weighted router in front of the two versions, with the admin API a canary actuator calls.

Routes:
- `GET /admin/state`: weights, faults and ports;
- `POST /admin/weight` `{"canary_weight": 10}`: 0..100, else 400 with the reason;
- `POST /admin/faults` `{"version": "canary", "error_rate": 0.03, "latency": "200ms"}`;
- `GET /metrics`: the router's own counts per upstream (Prometheus text);
- anything else is forwarded to canary with probability canary_weight/100, else to baseline, over
  pooled keep-alive connections, and written to the access log as one JSON line.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Mapping
from typing import Any

from engine.demo import metrics
from engine.demo.accesslog import AccessLog
from engine.demo.http11 import HttpError, Request, Response
from engine.demo.httpserver import QuietServer, json_response
from engine.demo.pool import UpstreamPool
from engine.demo.state import DemoState, parse_error_rate, parse_latency, parse_version

log = logging.getLogger("opsconsole.demo")

ADMIN_ROUTES: dict[str, str] = {"/admin/state": "GET", "/admin/weight": "POST", "/admin/faults": "POST"}
_FAULT_KEYS = ("version", "error_rate", "latency")
_LOG_ERROR_EVERY = 60.0  # seconds between two warnings about a failing access log


def _json_object(body: bytes, example: str) -> dict[str, Any]:
    try:
        document = json.loads(body or b"null")
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ValueError(f"the body must be a JSON object, e.g. {example}")
    return document


def _reject_unknown(document: dict[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(document) - set(known))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}; expected {', '.join(known)}")


class RouterServer(QuietServer):
    def __init__(
        self,
        state: DemoState,
        upstreams: Mapping[str, tuple[str, int]],
        access_log: AccessLog,
        host: str,
        port: int = 0,
    ) -> None:
        self.state = state
        self.upstreams = dict(upstreams)
        self.pool = UpstreamPool(self.upstreams)
        self.access_log = access_log
        self._last_log_error = float("-inf")
        self.requests = metrics.Counter(
            "demo_router_requests_total", "Requests routed, by upstream and status code.", ("upstream", "code")
        )
        self.duration = metrics.Histogram(
            "demo_router_request_duration_seconds", "Time to route a request, upstream included.", ("upstream",)
        )
        super().__init__(host, port, name="router")

    def respond(self, request: Request) -> Response:
        path = request.path
        if path == "/admin" or path.startswith("/admin/"):
            return self.admin(request)
        if path == "/metrics" and request.method == "GET":
            return Response(200, self.render_metrics(), metrics.CONTENT_TYPE)
        return self.proxy(request)

    # -- admin -------------------------------------------------------------------------------

    def admin(self, request: Request) -> Response:
        path = request.path
        method = ADMIN_ROUTES.get(path)
        if method is None:
            return json_response(404, {"error": f"no admin endpoint {path}; there are {', '.join(ADMIN_ROUTES)}"})
        if request.method != method:
            return json_response(405, {"error": f"{path} takes {method}, not {request.method}"}, {"Allow": method})
        try:
            if path == "/admin/weight":
                self._set_weight(request.body)
            elif path == "/admin/faults":
                self._set_faults(request.body)
        except ValueError as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(200, self.admin_state())

    def _set_weight(self, body: bytes) -> None:
        document = _json_object(body, '{"canary_weight": 10}')
        _reject_unknown(document, ("canary_weight",))
        if "canary_weight" not in document:
            raise ValueError('missing key "canary_weight", e.g. {"canary_weight": 10}')
        self.state.set_canary_weight(document["canary_weight"])

    def _set_faults(self, body: bytes) -> None:
        document = _json_object(body, '{"version": "canary", "error_rate": 0.03, "latency": "200ms"}')
        _reject_unknown(document, _FAULT_KEYS)
        if "version" not in document:
            raise ValueError('missing key "version" (baseline or canary)')
        if "error_rate" not in document and "latency" not in document:
            raise ValueError('nothing to change: give "error_rate" and/or "latency"')
        # Validate every field before changing any, so a bad request changes nothing.
        version = parse_version(document["version"])
        error_rate = parse_error_rate(document["error_rate"]) if "error_rate" in document else None
        latency = parse_latency(document["latency"]) if "latency" in document else None
        self.state.set_faults(version, error_rate=error_rate, latency=latency)

    def admin_state(self) -> dict[str, Any]:
        document = self.state.as_dict()
        document["ports"] = {"router": self.port, **{name: port for name, (_, port) in self.upstreams.items()}}
        return document

    # -- proxy -------------------------------------------------------------------------------

    def proxy(self, request: Request) -> Response:
        upstream = "canary" if random.random() * 100 < self.state.canary_weight else "baseline"
        headers = {"X-Forwarded-For": request.client}
        content_type = request.headers.get("content-type")
        if content_type:
            headers["Content-Type"] = content_type
        # HEAD goes upstream as GET, so the answer's Content-Length is the real one; the body is
        # dropped on the way out (the server writes the head only).
        method = "GET" if request.method == "HEAD" else request.method
        wall, started = time.time(), time.monotonic()
        try:
            answer = self.pool.request(upstream, method, request.target, headers, request.body)
            response = Response(answer.status, answer.body, answer.content_type)
        except TimeoutError as exc:
            response = self._failure(504, upstream, exc)
        except (OSError, HttpError) as exc:  # refused, reset, garbled: the client gets a 502 saying so
            response = self._failure(502, upstream, exc)
        request_time = time.monotonic() - started
        response.headers["X-Upstream"] = upstream
        self.requests.inc(upstream, str(response.status))
        self.duration.observe(request_time, upstream)
        self.log_access(
            ts=wall, upstream=upstream, method=request.method, path=request.target,
            status=response.status, request_time=request_time,
            nbytes=0 if request.method == "HEAD" else len(response.body),
        )
        return response

    def _failure(self, status: int, upstream: str, exc: BaseException) -> Response:
        log.debug("demo router: upstream %s failed: %r", upstream, exc)
        return json_response(status, {"error": f"upstream {upstream}: {str(exc) or type(exc).__name__}"})

    def log_access(self, **fields: Any) -> None:
        try:
            self.access_log.write(**fields)
        except OSError as exc:  # disk full, say: keep serving, warn now and then rather than per request
            now = time.monotonic()
            if now - self._last_log_error >= _LOG_ERROR_EVERY:
                self._last_log_error = now
                log.warning("demo: cannot write the access log %s: %s", self.access_log.path, exc)

    def render_metrics(self) -> bytes:
        return metrics.exposition(
            self.requests.render(),
            self.duration.render(),
            metrics.gauge("demo_router_canary_weight", "Share of requests routed to canary, percent.",
                          self.state.canary_weight),
            metrics.gauge("demo_up", "1 while the demo router serves.", 1),
        )

    def stop(self) -> None:
        super().stop()
        self.pool.close()
