"""Host metrics via psutil: CPU, memory, swap, load, disk usage per configured mount, disk and
network I/O rates.

Series: source "host" (cpu_pct, mem_pct, mem_available_bytes, mem_total_bytes, swap_pct,
swap_used_bytes, load1/5/15, disk_read_bytes_s, disk_write_bytes_s, net_recv_bytes_s,
net_sent_bytes_s) and one source per mount, "disk:<mount>" (used_pct, free_bytes, total_bytes).
I/O rates are named `*_bytes_s`, not `*_per_s`, so they stay out of the Throughput panel.

A reading is a handful of /proc reads and one statvfs per mount (well under a millisecond), but a
statvfs on a hung network mount never returns: so the reading runs in a worker thread, and a
reading that has not finished in time is reported (once) instead of piling up more threads.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from engine import eventcodes as ev
from engine.cadence import sleep_to_tick
from engine.component import EngineContext
from engine.monitor.config import HostMonitorConfig
from engine.units import format_duration

SOURCE = "host"
SLOW_READING = 5.0  # seconds: a reading slower than this (or 2 intervals) is reported


def disk_source(mount: Path) -> str:
    return f"disk:{mount}"


@dataclass(frozen=True)
class Sample:
    source: str
    metric: str
    value: float
    unit: str = ""


@dataclass
class Reading:
    t: float
    samples: list[Sample] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)  # what -> why, e.g. "mount /data" -> "..."

    def add(self, source: str, metric: str, value: float, unit: str = "") -> None:
        self.samples.append(Sample(source, metric, float(value), unit))


@dataclass(frozen=True)
class _IoCounters:
    at: float  # monotonic
    disk: tuple[int, int] | None  # read, write bytes
    net: tuple[int, int] | None  # received, sent bytes


class HostSampler:
    """Takes readings; keeps the previous I/O counters to turn them into rates. One thread at a time."""

    def __init__(self, config: HostMonitorConfig) -> None:
        self.config = config
        self._last_io: _IoCounters | None = None

    def prime(self) -> None:
        """The first CPU and I/O figures need a previous reading: take it now, record nothing."""
        psutil.cpu_percent(interval=None)
        self._last_io = self._io_counters()

    def read(self) -> Reading:
        reading = Reading(time.time())
        self._memory_and_cpu(reading)
        for mount in self.config.mounts:
            self._mount(reading, mount)
        self._io_rates(reading)
        return reading

    @staticmethod
    def _memory_and_cpu(reading: Reading) -> None:
        mem = psutil.virtual_memory()
        swap = psutil.swap_memory()
        reading.add(SOURCE, "cpu_pct", psutil.cpu_percent(interval=None), "%")
        reading.add(SOURCE, "mem_pct", mem.percent, "%")
        reading.add(SOURCE, "mem_available_bytes", mem.available, "B")
        reading.add(SOURCE, "mem_total_bytes", mem.total, "B")
        reading.add(SOURCE, "swap_pct", swap.percent, "%")
        reading.add(SOURCE, "swap_used_bytes", swap.used, "B")
        for name, value in zip(("load1", "load5", "load15"), os.getloadavg(), strict=True):
            reading.add(SOURCE, name, value)

    @staticmethod
    def _mount(reading: Reading, mount: Path) -> None:
        try:
            usage = psutil.disk_usage(str(mount))
        except OSError as exc:  # missing, not mounted, no permission: no data for it, and say why
            reading.problems[f"mount {mount}"] = exc.strerror or str(exc)
            return
        source = disk_source(mount)
        reading.add(source, "used_pct", usage.percent, "%")
        reading.add(source, "free_bytes", usage.free, "B")
        reading.add(source, "total_bytes", usage.total, "B")

    def _io_counters(self) -> _IoCounters:
        disk = net = None
        if self.config.disk_io:
            counters = psutil.disk_io_counters(nowrap=True)
            disk = (counters.read_bytes, counters.write_bytes) if counters else None
        if self.config.net_io:
            counters = psutil.net_io_counters(nowrap=True)
            net = (counters.bytes_recv, counters.bytes_sent) if counters else None
        return _IoCounters(time.monotonic(), disk, net)

    def _io_rates(self, reading: Reading) -> None:
        """Rates from the measured time between two real readings, not the nominal interval."""
        now, last = self._io_counters(), self._last_io
        self._last_io = now
        if last is None or now.at <= last.at:
            return
        elapsed = now.at - last.at
        for kind, names, new, old in (
            ("disk I/O", ("disk_read_bytes_s", "disk_write_bytes_s"), now.disk, last.disk),
            ("network I/O", ("net_recv_bytes_s", "net_sent_bytes_s"), now.net, last.net),
        ):
            if new is None:
                if (kind == "disk I/O" and self.config.disk_io) or (kind == "network I/O" and self.config.net_io):
                    reading.problems[kind] = "psutil reports no counters on this host"
                continue
            if old is None:
                continue
            for name, a, b in zip(names, new, old, strict=True):
                if a >= b:  # a counter reset (device removed) gives no rate, never a negative one
                    reading.add(SOURCE, name, (a - b) / elapsed, "B/s")


class HostMonitor:
    name = "host-monitor"

    def __init__(self, config: HostMonitorConfig) -> None:
        self.config = config
        self.sampler = HostSampler(config)
        self._problems: dict[str, str] = {}

    async def run(self, ctx: EngineContext) -> None:
        await asyncio.to_thread(self.sampler.prime)
        while True:
            # A fixed schedule (not sleep(interval) after the work) keeps the cadence from drifting,
            # on the engine's shared grid: the wake-up is the other timers' too (engine/cadence.py).
            await sleep_to_tick(self.config.interval)
            await ctx.wait_running()
            reading = await self._read(ctx)
            for s in reading.samples:
                ctx.record(s.source, s.metric, s.value, t=reading.t, unit=s.unit)
            self._report_problems(ctx, reading.problems)

    async def _read(self, ctx: EngineContext) -> Reading:
        task = asyncio.ensure_future(asyncio.to_thread(self.sampler.read))
        limit = max(SLOW_READING, 2 * self.config.interval)
        done, _ = await asyncio.wait({task}, timeout=limit)
        if not done:
            mounts = ", ".join(map(str, self.config.mounts))
            ctx.event(ev.HOST_READING_HUNG, "warning", self.name,
                      f"host reading has not finished after {format_duration(limit)} "
                      f"(a hung mount among {mounts}?); no host data until it does")
            await task  # one stuck thread, not one more per interval
            ctx.event(ev.HOST_READING_RESUMED, "info", self.name, "host reading finished again")
        return task.result()

    def _report_problems(self, ctx: EngineContext, problems: dict[str, str]) -> None:
        """Each problem once when it appears (with its cause), and once when it goes away."""
        for what, why in problems.items():
            if self._problems.get(what) != why:
                ctx.event(ev.HOST_NO_DATA, "warning", self.name, f"{what}: no data: {why}", {"what": what, "error": why})
        for what in self._problems.keys() - problems.keys():
            ctx.event(ev.HOST_DATA_AGAIN, "info", self.name, f"{what}: data again", {"what": what})
        self._problems = dict(problems)
