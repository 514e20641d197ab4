"""Collection at scale against its floor, measured in the same run.

    python bench/collect.py [--targets 1000] [--seconds 30] [--interval 1] [--only ours|floor] [--httpx]

One local server (tests/httpfixtures.py, a raw asyncio HTTP/1.1 responder, in a subprocess so its
CPU is not ours) answers every path with the demo's own Prometheus exposition (~1.3 KB: a
labelled request counter and a latency histogram).

Ours: the real engine (store on a temp file, host monitor off) with one track of `--targets`
prometheus targets at `--interval`: every scrape is parsed, turned into rates and p50/p95/p99,
recorded into the ring buffers and the SQLite writer, and checked by the GapTracker.
Floor: a bare asyncio loop on the same grid as ours (engine/collect/scheduler.py slot_offset:
past 8 targets, target i at start + n x interval + i x interval/N) fetching the same URLs over
keep-alive asyncio streams: write the GET, read the head, read Content-Length bytes — the least any Python scraper does per request; no parsing, no store.
`--httpx`: also a bare httpx.AsyncClient loop (asyncio.gather of every URL once per interval),
the reference of the earlier figures.

Each is measured for `--seconds` after a warm-up (until every target has answered once: making
1,000 connections is not the steady state). Printed for each: successful fetches per second, CPU
of this process as % of one core, and cadence: lateness of each scrape's start against its slot
(p50/p99/max; ours read from the collect component's own measurement), the mean and p99 of
|gap - interval| between a target's consecutive answers, and drift — how far the last answer is
from where a perfect schedule would put it (first answer + n x interval), median over targets.
Then the ratios to the floor and one JSON line.
Target: 1,000 targets at 1 s within one core, no drift.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import pairwise
from pathlib import Path

import httpx
import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.collect import scheduler  # noqa: E402
from engine.config.loader import load_config  # noqa: E402
from engine.demo import metrics  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from engine.snapshot import TargetState  # noqa: E402

WARMUP_MAX = 60.0  # seconds to wait for every target's first answer


def exposition() -> bytes:
    requests = metrics.Counter("demo_http_requests_total", "Requests.", ("version", "code"))
    duration = metrics.Histogram("demo_http_request_duration_seconds", "Latency.", ("version",))
    for i in range(500):
        requests.inc("baseline", "500" if i % 50 == 0 else "200")
        duration.observe(0.002 + (i % 40) / 1000, "baseline")
    return metrics.exposition(requests.render(), duration.render(), metrics.gauge("demo_up", "Up.", 1))


def start_server(workdir: Path) -> tuple[subprocess.Popen[str], int]:
    body = workdir / "body.txt"
    body.write_bytes(exposition())
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.httpfixtures", "--body-file", str(body)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None
    return server, int(server.stdout.readline())


def cadence(times_by_target: list[list[float]], interval: float, t0: float) -> dict[str, float]:
    errors: list[float] = []
    drifts: list[float] = []
    answers = 0
    for times in times_by_target:
        times = [t for t in times if t >= t0]
        answers += len(times)
        errors += [abs((b - a) - interval) for a, b in pairwise(times)]
        if len(times) > 1:  # a missed answer shows here as a whole interval of drift
            drifts.append((times[-1] - times[0]) - (len(times) - 1) * interval)
    errors.sort()
    return {
        "answers": answers,
        "mean_err_ms": 1000 * statistics.fmean(errors) if errors else float("nan"),
        "p99_err_ms": 1000 * errors[int(0.99 * (len(errors) - 1))] if errors else float("nan"),
        "drift_ms": 1000 * statistics.median(drifts) if drifts else float("nan"),
    }


def lateness_figures(values: list[float]) -> dict[str, float]:
    ms = sorted(1000 * v for v in values)
    if not ms:
        return {"lateness_p50_ms": float("nan"), "lateness_p99_ms": float("nan"), "lateness_max_ms": float("nan")}
    return {"lateness_p50_ms": ms[len(ms) // 2], "lateness_p99_ms": ms[int(0.99 * (len(ms) - 1))],
            "lateness_max_ms": ms[-1]}


class Starts:
    """Every scrape's lateness as the collect component measures it (scheduler.Lateness.started)."""

    def __init__(self) -> None:
        self.values: list[tuple[float, float]] = []  # (monotonic time, lateness s)
        self._started = scheduler.Lateness.started

    def __enter__(self) -> Starts:
        original, values = self._started, self.values

        def started(book: scheduler.Lateness, lateness: float, interval: float) -> None:
            values.append((time.monotonic(), max(0.0, lateness)))
            original(book, lateness, interval)

        scheduler.Lateness.started = started  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        scheduler.Lateness.started = self._started  # type: ignore[method-assign]

    def between(self, m0: float, m1: float) -> list[float]:
        return [v for t, v in self.values if m0 <= t <= m1]


def run_ours(port: int, targets: int, seconds: float, interval: float, workdir: Path) -> dict[str, float]:
    lines = "\n".join(
        f'        - {{name: t{i:04d}, url: "http://127.0.0.1:{port}/m{i}", format: prometheus}}' for i in range(targets)
    )
    config = workdir / "config.yaml"
    config.write_text(
        f"store: {{path: {workdir / 'history.db'}}}\n"
        "monitor: {host: {enabled: false}}\n"
        f"collect:\n  max_concurrency: {targets}\n  rate_limit: {{rate: 1000000, burst: 1000000}}\n"
        f"  tracks:\n    - name: bench\n      interval: {interval}s\n      timeout: 5s\n      targets:\n{lines}\n"
    )
    engine = Engine(load_config(config))
    with Starts() as starts:
        engine.start()
        try:
            deadline = time.monotonic() + WARMUP_MAX
            while time.monotonic() < deadline and sum(1 for t in engine.snapshot().targets if t.state == TargetState.OK) < targets:
                time.sleep(0.2)  # warm-up: until every target has answered once (connections made)
            cpu0, t0, m0 = time.process_time(), time.time(), time.monotonic()
            time.sleep(seconds)
            cpu1, t1, m1 = time.process_time(), time.time(), time.monotonic()
            snapshot = engine.snapshot()
        finally:
            engine.stop(timeout=10)
    times = []
    for i in range(targets):
        view = snapshot.get(f"collect:t{i:04d}", "scrape_ms")
        times.append([t for t in (view.times if view else ()) if t <= t1])
    result = cadence(times, interval, t0)
    result["per_s"] = result["answers"] / (t1 - t0)
    result["cpu"] = (cpu1 - cpu0) / (t1 - t0)
    result.update(lateness_figures(starts.between(m0, m1)))
    return result


async def floor_loop(port: int, targets: int, seconds: float, interval: float) -> dict[str, float]:
    """Keep-alive asyncio streams on the same spread grid as ours; nothing but the fetch."""
    paths = [f"/m{i}".encode() for i in range(targets)]
    times: list[list[float]] = [[] for _ in paths]
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    late: list[float] = []
    tasks: set[asyncio.Task[None]] = set()
    measuring = [False]

    async def get(index: int, due: float) -> None:
        if measuring[0]:
            late.append(max(0.0, time.monotonic() - due))
        reader, writer = idle.pop() if idle else await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET " + paths[index] + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        await reader.readexactly(length)
        times[index].append(time.time())
        idle.append((reader, writer))

    def spawn(index: int, due: float) -> None:
        task = asyncio.create_task(get(index, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    warm_until = time.monotonic() + WARMUP_MAX
    start = time.monotonic()
    index, round_start, cpu0, t0, end = 0, start, 0.0, 0.0, float("inf")
    while True:
        now = time.monotonic()
        if not measuring[0] and (all(times) or now > warm_until):  # warm-up: every target answered once
            measuring[0] = True
            cpu0, t0 = time.process_time(), time.time()
            end = now + seconds
        if now >= end:
            break
        due = round_start + scheduler.slot_offset(index, targets, interval)
        while due <= now + scheduler.SLACK:
            spawn(index, due)
            index += 1
            if index == targets:
                index, round_start = 0, round_start + interval
            due = round_start + scheduler.slot_offset(index, targets, interval)
        await asyncio.sleep(max(0.0, due - time.monotonic()))
    cpu1, t1 = time.process_time(), time.time()
    for task in tasks:
        task.cancel()
    for _, writer in idle:
        writer.close()
    result = cadence([[t for t in ts if t <= t1] for ts in times], interval, t0)
    result["per_s"] = result["answers"] / (t1 - t0)
    result["cpu"] = (cpu1 - cpu0) / (t1 - t0)
    result.update(lateness_figures(late))
    return result


async def bare_loop(port: int, targets: int, seconds: float, interval: float) -> tuple[list[list[float]], float, float, float, float]:
    urls = [f"http://127.0.0.1:{port}/m{i}" for i in range(targets)]
    times: list[list[float]] = [[] for _ in urls]
    limits = httpx.Limits(max_connections=targets, max_keepalive_connections=targets)

    async def get(client: httpx.AsyncClient, index: int) -> None:
        response = await client.get(urls[index])
        if response.status_code == 200:
            times[index].append(time.time())

    async with httpx.AsyncClient(limits=limits, timeout=5.0) as client:
        # Warm-up: one full round (every connection made), as for ours.
        await asyncio.gather(*(get(client, i) for i in range(targets)), return_exceptions=True)
        cpu0, t0 = time.process_time(), time.time()
        start = time.monotonic()
        tick = 0
        while time.monotonic() - start < seconds:
            await asyncio.gather(*(get(client, i) for i in range(targets)), return_exceptions=True)
            tick += 1
            await asyncio.sleep(max(0.0, start + tick * interval - time.monotonic()))
        return times, cpu0, t0, time.process_time(), time.time()


def run_bare(port: int, targets: int, seconds: float, interval: float) -> dict[str, float]:
    times, cpu0, t0, cpu1, t1 = asyncio.run(bare_loop(port, targets, seconds, interval))
    result = cadence([[t for t in ts if t <= t1] for ts in times], interval, t0)
    result["per_s"] = result["answers"] / (t1 - t0)
    result["cpu"] = (cpu1 - cpu0) / (t1 - t0)
    return result


def show(name: str, r: dict[str, float]) -> None:
    late = (f"   lateness p50 {r['lateness_p50_ms']:5.1f} p99 {r['lateness_p99_ms']:6.1f} max {r['lateness_max_ms']:6.1f} ms"
            if "lateness_max_ms" in r else "")
    print(f"{name:<6} {r['per_s']:7.1f} fetches/s   cpu {100 * r['cpu']:5.1f}% of a core{late}\n"
          f"{'':<6} |gap-interval| mean {r['mean_err_ms']:6.1f} ms, p99 {r['p99_err_ms']:6.1f} ms   "
          f"drift {r['drift_ms']:+7.1f} ms over the run")


def rounded(r: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 3 if k == "cpu" else 1) for k, v in r.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--only", choices=("ours", "floor"), help="run one side (e.g. under a profiler)")
    parser.add_argument("--httpx", action="store_true", help="also the bare httpx loop of the earlier figures")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server, port = start_server(workdir)
        try:
            print(f"{args.targets} targets on 127.0.0.1:{port} every {args.interval:g}s, measured for {args.seconds:g}s "
                  "after a warm-up (until every target answered once)")
            child = psutil.Process(server.pid)
            server_cpu = sum(child.cpu_times()[:2])
            if args.only != "floor":
                results["ours"] = run_ours(port, args.targets, args.seconds, args.interval, workdir)
                show("ours", results["ours"])
            if args.only != "ours":
                results["floor"] = asyncio.run(floor_loop(port, args.targets, args.seconds, args.interval))
                show("floor", results["floor"])
            if args.httpx:
                results["httpx"] = run_bare(port, args.targets, args.seconds, args.interval)
                show("httpx", results["httpx"])
            server_cpu = sum(child.cpu_times()[:2]) - server_cpu
            print(f"server: {server_cpu / (len(results) * args.seconds):.2f} CPU s/s; "
                  f"machine load average {psutil.getloadavg()[0]:.1f} on {psutil.cpu_count()} CPUs")
        finally:
            server.stdin.close()  # type: ignore[union-attr]
            server.wait(5)
    out: dict[str, object] = {"bench": "collect", "targets": args.targets, "interval_s": args.interval,
                              **{name: rounded(r) for name, r in results.items()}}
    if "ours" in results and "floor" in results:
        ours, floor = results["ours"], results["floor"]
        ratios = {"per_s": ours["per_s"] / floor["per_s"], "cpu": ours["cpu"] / floor["cpu"],
                  "lateness_p99": ours["lateness_p99_ms"] / max(floor["lateness_p99_ms"], 0.1)}
        print(f"ours/floor: throughput {ratios['per_s']:.2f}x, cpu {ratios['cpu']:.2f}x (ours also parses, computes "
              f"rates and stores), lateness p99 {ratios['lateness_p99']:.2f}x   "
              f"target: {args.targets} targets within one core: {'OK' if ours['cpu'] <= 1 and ours['per_s'] >= 0.99 * args.targets / args.interval else 'NOT MET'}")
        out["ours_over_floor"] = {k: round(v, 2) for k, v in ratios.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
