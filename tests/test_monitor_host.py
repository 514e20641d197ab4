"""Host monitoring with psutil on this real host: memory, CPU, load, disk usage per mount, I/O rates."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import psutil

from engine.monitor.config import HostMonitorConfig
from engine.monitor.host import HostSampler, disk_source
from tests.monitorkit import events, running_engine, wait_for


def values(reading) -> dict[str, float]:
    return {f"{s.source}/{s.metric}": s.value for s in reading.samples}


def test_a_reading_has_memory_cpu_load_and_each_mount(tmp_path: Path) -> None:
    sampler = HostSampler(HostMonitorConfig(mounts=[Path("/"), tmp_path]))
    sampler.prime()
    got = values(sampler.read())
    assert 0 < got["host/mem_pct"] <= 100
    assert 0 < got["host/mem_available_bytes"] <= got["host/mem_total_bytes"]
    assert 0 <= got["host/cpu_pct"] <= 100
    assert got["host/load1"] >= 0 and "host/swap_pct" in got
    usage = psutil.disk_usage(str(tmp_path))
    assert got[f"{disk_source(tmp_path)}/total_bytes"] == usage.total
    assert abs(got[f"{disk_source(tmp_path)}/used_pct"] - usage.percent) < 1.0
    assert "disk://used_pct" in got  # the root mount: source "disk:/"


def test_network_rate_comes_from_measured_time_and_counts_real_traffic(tmp_path: Path) -> None:
    """Send 4 MB over loopback between two readings: the received rate times the real elapsed
    time accounts for at least those bytes (other traffic only adds)."""
    sampler = HostSampler(HostMonitorConfig(mounts=[], disk_io=False))
    if psutil.net_io_counters() is None:  # pragma: no cover - hosts without network counters
        return
    payload = b"x" * 4_000_000
    server = socket.create_server(("127.0.0.1", 0))
    received = bytearray()

    def drain() -> None:
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    sampler.prime()
    started = time.monotonic()
    with socket.create_connection(server.getsockname()) as client:
        client.sendall(payload)
    reader.join(10)
    time.sleep(0.05)
    elapsed = time.monotonic() - started
    got = values(sampler.read())
    server.close()
    assert len(received) == len(payload)
    assert got["host/net_recv_bytes_s"] * (elapsed + 0.1) >= len(payload)
    assert "host/disk_read_bytes_s" not in got  # disk_io: false means no disk rates at all


def test_a_missing_mount_is_no_data_and_one_event_then_data_again(tmp_path: Path) -> None:
    mount = tmp_path / "data"
    body = f"monitor: {{host: {{interval: 100ms, mounts: ['{mount}']}}}}\n"
    with running_engine(tmp_path, body) as engine:
        wait_for(lambda: engine.snapshot().get("host", "mem_pct") is not None, what="host samples")
        wait_for(lambda: any("no data" in m for m in events(engine, source="host-monitor")), what="mount event")
        time.sleep(0.4)  # several more readings: still one event
        problems = [m for m in events(engine, source="host-monitor") if str(mount) in m]
        assert problems == [f"mount {mount}: no data: No such file or directory"]
        assert engine.snapshot().get(disk_source(mount), "used_pct") is None  # a gap, never 0
        mount.mkdir()
        wait_for(lambda: engine.snapshot().get(disk_source(mount), "used_pct") is not None, what="mount data")
        assert f"mount {mount}: data again" in events(engine, source="host-monitor")
