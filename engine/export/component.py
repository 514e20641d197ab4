"""The Prometheus exporter as an engine component: prometheus-client's HTTP server in its own
threads, answering `/metrics` from the engine's latest Snapshot (engine/export/metrics.py).

It binds 127.0.0.1 by default. Another address is allowed (a team may scrape from another
host) but the series, rollout and alert names are then readable by anyone who can reach the port,
so each start says so loudly: a warning event (Errors panel, history) and a log line.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.process_collector import ProcessCollector

from engine import eventcodes as ev
from engine.component import ComponentError, EngineContext
from engine.export.config import PrometheusExportConfig, is_loopback
from engine.export.metrics import SnapshotCollector
from engine.snapshot import Snapshot


class PrometheusExporter:
    name = "export"

    def __init__(self, config: PrometheusExportConfig, snapshot: Callable[[], Snapshot]) -> None:
        self.config = config
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(SnapshotCollector(snapshot, config.stale_after))
        self.registry.register(ProcessCollector(registry=None))  # process_cpu_seconds_total, RSS, fds
        self.url: str | None = None  # set once listening (port 0 picks a free port)

    async def run(self, ctx: EngineContext) -> None:
        host, port = self.config.address
        try:
            server, thread = await asyncio.to_thread(start_http_server, port, host, self.registry)
        except (OSError, socket.gaierror) as exc:
            raise ComponentError(
                f"export.prometheus: cannot listen on {self.config.listen}: {getattr(exc, 'strerror', None) or exc}"
            ) from None
        bound = server.server_address[1]
        shown_host = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown_host}:{bound}/metrics"
        if is_loopback(host):
            ctx.event(ev.EXPORT_LISTENING, "info", "export", f"Prometheus metrics on {self.url}",
                      {"url": self.url, "loopback": True})
        else:
            ctx.event(ev.EXPORT_LISTENING, "warning", "export",
                      f"metrics exporter listens on {self.url}: NOT loopback — anyone who can reach this "
                      "port reads every series, rollout and alert; bind 127.0.0.1 unless that is intended",
                      {"url": self.url, "loopback": False})
        try:
            await asyncio.Future()  # until cancelled (engine stop or reload)
        finally:
            await asyncio.to_thread(_shut_down, server)
            thread.join(timeout=2.0)


def _shut_down(server: WSGIServer) -> None:
    server.shutdown()  # waits for serve_forever's loop (polls every 0.5 s) to end
    server.server_close()
