"""One version of the app behind nginx, as a real process for tests/nginxrig.py (stdlib only).

    python tests/nginxbackend.py --name canary --seed 2 --error-rate 0.005 --latency-ms 5

Binds 127.0.0.1 on a free port (or `--port N`) and prints `listening <port>` once it accepts
connections. examples/nginx-canary/ uses it as the two versions to try a rollout with.

    GET  /         the app: "<name>" with 200, or 500 at the error rate (seeded RNG), after the latency
    GET  /metrics  Prometheus text: http_requests_total{code} and http_request_duration_seconds
    GET  /health   {"status": "ok"}
    POST /admin    JSON {"error_rate": 0.03, "latency_ms": 5, "fail_next": 1}: change them now;
                   answers the state after the change

Only requests to / are counted in /metrics, so the scrapes and health checks of the engine do not
dilute the error rate it reads.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Prometheus client libraries' default buckets (seconds).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class App:
    """The knobs and the counters, behind one lock: the RNG is drawn in request order, so a seed
    gives the same sequence of answers for the same sequence of requests."""

    def __init__(self, name: str, seed: int, error_rate: float, latency_ms: float) -> None:
        self.name = name
        self.rng = random.Random(seed)
        self.error_rate = error_rate
        self.latency_ms = latency_ms
        self.fail_next = 0
        self.codes: dict[int, int] = {200: 0, 500: 0}
        self.buckets = [0] * (len(BUCKETS) + 1)  # per bucket, the last one is +Inf
        self.duration_sum = 0.0
        self.lock = threading.Lock()

    def decide(self) -> tuple[int, float]:
        """(status, seconds to wait) for the next request."""
        with self.lock:
            failing = self.rng.random() < self.error_rate
            jitter = 0.5 + self.rng.random()  # latency_ms × 0.5..1.5
            if self.fail_next > 0:
                self.fail_next -= 1
                failing = True
            return (500 if failing else 200), self.latency_ms * jitter / 1000

    def observe(self, status: int, seconds: float) -> None:
        with self.lock:
            self.codes[status] = self.codes.get(status, 0) + 1
            index = next((i for i, bound in enumerate(BUCKETS) if seconds <= bound), len(BUCKETS))
            self.buckets[index] += 1
            self.duration_sum += seconds

    def configure(self, change: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if "error_rate" in change:
                self.error_rate = float(change["error_rate"])
            if "latency_ms" in change:
                self.latency_ms = float(change["latency_ms"])
            if "fail_next" in change:
                self.fail_next = int(change["fail_next"])
            return {"name": self.name, "error_rate": self.error_rate, "latency_ms": self.latency_ms,
                    "fail_next": self.fail_next, "codes": dict(self.codes)}

    def metrics(self) -> str:
        with self.lock:
            codes, buckets, total_s = dict(self.codes), list(self.buckets), self.duration_sum
        lines = ["# HELP http_requests_total Requests to / by status code.", "# TYPE http_requests_total counter"]
        lines += [f'http_requests_total{{code="{code}"}} {count}' for code, count in sorted(codes.items())]
        lines += ["# HELP http_request_duration_seconds Time to answer /.",
                  "# TYPE http_request_duration_seconds histogram"]
        cumulative = 0
        for bound, count in zip((*(f"{b:g}" for b in BUCKETS), "+Inf"), buckets, strict=True):
            cumulative += count
            lines.append(f'http_request_duration_seconds_bucket{{le="{bound}"}} {cumulative}')
        lines += [f"http_request_duration_seconds_sum {total_s:.6f}",
                  f"http_request_duration_seconds_count {cumulative}"]
        return "\n".join(lines) + "\n"


def handler_for(app: App) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            """Quiet: 100 requests a second would flood the test's output."""

        def reply(self, status: int, body: str, content_type: str = "text/plain") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self.reply(200, app.metrics(), "text/plain; version=0.0.4")
            elif path == "/health":
                self.reply(200, json.dumps({"status": "ok"}), "application/json")
            elif path == "/":
                started = time.monotonic()
                status, wait = app.decide()
                time.sleep(wait)
                self.reply(status, app.name if status == 200 else f"{app.name}: injected failure")
                app.observe(status, time.monotonic() - started)
            else:
                self.reply(404, "not found")

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path != "/admin":
                self.reply(404, "not found")
                return
            length = int(self.headers.get("Content-Length") or 0)
            try:
                change = json.loads(self.rfile.read(length) or b"{}")
                state = app.configure(change)
            except (ValueError, TypeError) as exc:
                self.reply(400, f"bad admin request: {exc}")
                return
            self.reply(200, json.dumps(state), "application/json")

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args(argv)
    app = App(args.name, args.seed, args.error_rate, args.latency_ms)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(app))
    server.daemon_threads = True
    # SIGTERM: a clean stop (SIGKILL, the test's crash, needs no handler).
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
