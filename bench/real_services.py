"""What a real config watches, as its own process (so its CPU is not the console's): bench/tui_cost.py --real.

    python bench/real_services.py --dir DIR [--targets 4] [--rps 20] [--log-rps 10]

- `--targets` HTTP servers on free 127.0.0.1 ports, each with `/metrics` (Prometheus text:
  http_requests_total{code} and the http_request_duration_seconds histogram, counting `--rps`
  simulated requests a second, ~1% of them 500s) and `/health` ({"status": "ok"});
- one router API on its own port, the rollout's actuator: `POST /weight?canary=N` answers 200;
- one log writer appending `--log-rps` nginx_json access lines a second to DIR/access.json, split
  between the first two servers (stable and canary) by the last weight set.

Prints one JSON line ({"targets": [ports], "router": port, "log": path}) when listening, then runs
until killed (SIGTERM) or its stdin closes.
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
from pathlib import Path
from urllib.parse import parse_qs, urlparse

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class Version:
    """Counters that grow as if `rps` requests a second were served since the start."""

    def __init__(self, name: str, rps: float) -> None:
        self.name, self.rps, self.started = name, rps, time.monotonic()

    def metrics(self) -> bytes:
        n = int((time.monotonic() - self.started) * self.rps)
        errors = n // 100
        lines = ["# HELP http_requests_total Requests served.", "# TYPE http_requests_total counter",
                 f'http_requests_total{{code="200"}} {n - errors}', f'http_requests_total{{code="500"}} {errors}',
                 "# HELP http_request_duration_seconds Time to serve a request.",
                 "# TYPE http_request_duration_seconds histogram"]
        shares = (0.2, 0.5, 0.8, 0.95, 0.99, 1.0, 1.0, 1.0)
        for bound, share in zip(BOUNDS, shares, strict=True):
            lines.append(f'http_request_duration_seconds_bucket{{le="{bound}"}} {int(n * share)}')
        lines += [f'http_request_duration_seconds_bucket{{le="+Inf"}} {n}',
                  f"http_request_duration_seconds_sum {n * 0.012:.3f}", f"http_request_duration_seconds_count {n}"]
        return ("\n".join(lines) + "\n").encode()


def handler(version: Version | None, weight: list[int]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real service answers the collector

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (the base class's name)
            pass

        def _send(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802  (http.server's name)
            path = urlparse(self.path).path
            if version is not None and path == "/metrics":
                self._send(200, version.metrics(), "text/plain; version=0.0.4")
            elif version is not None and path == "/health":
                self._send(200, json.dumps({"status": "ok", "version": version.name}).encode(), "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            query = parse_qs(urlparse(self.path).query)
            if version is None and "canary" in query:
                weight[0] = int(query["canary"][0])
                self._send(200, json.dumps({"canary": weight[0]}).encode(), "application/json")
            else:
                self._send(404, b"not found\n", "text/plain")

    return Handler


def serve(server: ThreadingHTTPServer) -> None:
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5}, daemon=True).start()


def write_log(path: Path, rps: float, addresses: tuple[str, str], weight: list[int], stop: threading.Event) -> None:
    """nginx_json lines (the preset's log_format), flushed line by line as nginx does."""
    with path.open("a", buffering=1) as out:
        while not stop.wait(1.0 / rps):
            canary = random.random() * 100 < weight[0]
            status = 500 if random.random() < 0.01 else 200
            out.write(json.dumps({
                "time": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
                "upstream_addr": addresses[1 if canary else 0], "status": status,
                "request_time": round(random.uniform(0.002, 0.05), 3), "upstream_response_time": "0.010",
                "request": "GET /api/orders HTTP/1.1"}) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--targets", type=int, default=4)
    parser.add_argument("--rps", type=float, default=20.0, help="simulated requests/s each /metrics counts")
    parser.add_argument("--log-rps", type=float, default=10.0, help="access log lines/s")
    args = parser.parse_args()
    weight = [0]
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler(Version(f"v{i}", args.rps), weight))
               for i in range(args.targets)]
    router = ThreadingHTTPServer(("127.0.0.1", 0), handler(None, weight))
    for server in (*servers, router):
        server.daemon_threads = True
        serve(server)
    ports = [s.server_address[1] for s in servers]
    log = args.dir / "access.json"
    log.touch()
    stop = threading.Event()
    addresses = (f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1 % len(ports)]}")
    threading.Thread(target=write_log, args=(log, args.log_rps, addresses, weight, stop), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(json.dumps({"targets": ports, "router": router.server_address[1], "log": str(log)}), flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()  # parent gone: stop
    stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
