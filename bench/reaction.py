"""How fast the canary reacts: from the deciding check to the actuator's call, and from the
operator's confirming keypress to the actuator's call, under load. Target: <= 100 ms each, at the max.

Both run the real thing: an Engine with a real store, the canary component, an `http` actuator
calling a real HTTP server on 127.0.0.1 in its own process as a real endpoint is
(bench/actuator_server.py; `--in-process-server`: a thread of this one), which notes when each
call arrives. The keypress path
drives the real console (Textual Pilot, refreshing every second as it does for an operator): R,
enter, then y — timed from just before the y, and split into its stages: y -> the console submits
the command (UI thread), submit -> the command starts on the engine's loop, start -> the actuator's
call arrives.

Load: the same engine also collects `--load-targets` Prometheus targets every second (the collect
benchmark's server and page, in a subprocess), so the loop is busy the way a real engine is.

Floors, measured in the same run:
- a direct POST sent with httpx to the same server (send to arrival, no load);
- the engine loop's wake-up under the same load: a thread calls `loop.call_soon_threadsafe` every
  10 ms while the keypresses run, and the delay until the callback runs is noted. No command can
  start sooner than this, so the keypress's max is read against its max.

    python bench/reaction.py [--runs 20] [--load-targets 500]

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from bench.actuator_server import PATHS, ActuatorServer  # noqa: E402
from bench.collect import start_server  # noqa: E402
from engine.commands import Command  # noqa: E402
from engine.heap import freeze_startup_objects  # noqa: E402
from engine.runtime import Engine  # noqa: E402
from engine.snapshot import TargetState  # noqa: E402
from tests.canaryfixtures import CANARY, Feeder, http_actuator, running, status, wait_until, write_config  # noqa: E402
from tests.httpfixtures import HttpFixture, Reply  # noqa: E402

CONFIG = ("  interval: 50ms\n  window: 100ms\n  stages: [{weight: 5, hold: 1h}, {weight: 100}]\n"
          f"  rules: [{{series: '{CANARY}', max: 0.01, consecutive: 1}}]\n")
MONO_TO_WALL = time.time() - time.monotonic()  # HttpFixture notes arrivals in monotonic time


def load_section(port: int | None, targets: int) -> str:
    """`collect:` with `targets` Prometheus targets every second on the load server ("" for none)."""
    if port is None or targets <= 0:
        return ""
    lines = "\n".join(
        f'        - {{name: l{i:04d}, url: "http://127.0.0.1:{port}/m{i}", format: prometheus}}' for i in range(targets)
    )
    return (f"collect:\n  max_concurrency: {targets}\n  rate_limit: {{rate: 1000000, burst: 1000000}}\n"
            f"  tracks:\n    - name: load\n      interval: 1s\n      timeout: 5s\n      targets:\n{lines}\n")


def wait_collecting(engine: Engine, targets: int, timeout: float = 60.0) -> None:
    """Until every load target has answered once: making the connections is not the steady state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sum(1 for t in engine.snapshot().targets if t.state == TargetState.OK) < targets:
        time.sleep(0.2)


class LoopProbe:
    """The floor: how long a callback handed to the engine's loop from another thread waits to run."""

    def __init__(self, engine: Engine, every: float = 0.01) -> None:
        self.engine, self.every = engine, every
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loop-probe", daemon=True)

    def _run(self) -> None:
        loop = self.engine._loop
        assert loop is not None
        while not self._stop.wait(self.every):
            sent = time.perf_counter()
            loop.call_soon_threadsafe(lambda sent=sent: self.samples.append(time.perf_counter() - sent))

    def __enter__(self) -> LoopProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def stages(engine: Engine) -> Iterator[dict[str, list[float]]]:
    """Wall times at which each command was submitted (UI thread) and started on the engine's loop."""
    seen: dict[str, list[float]] = {"submitted": [], "started": []}
    submit: Callable[..., Any] = engine.submit
    execute: Callable[..., Any] = engine.execute

    def noting_submit(command: Command) -> Any:
        if command.name == "rollout.rollback":
            seen["submitted"].append(time.time())
        return submit(command)

    async def noting_execute(command: Command) -> Any:
        if command.name == "rollout.rollback":
            seen["started"].append(time.time())
        return await execute(command)

    engine.submit, engine.execute = noting_submit, noting_execute  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del engine.submit, engine.execute


class InProcess(HttpFixture):
    """HttpFixture with ActuatorServer's routes and clear()."""

    def __init__(self) -> None:
        super().__init__()
        for path in PATHS:
            self.route(path, Reply(200, "ok"))

    def clear(self) -> None:
        self.requests.clear()


Endpoint = InProcess | ActuatorServer


def actuator_endpoint(in_process: bool) -> Endpoint:
    """Where the actuator's calls go: a child process (as a real endpoint is), or a thread here."""
    return InProcess() if in_process else ActuatorServer()


def arrival(server: Endpoint, index: int) -> float:
    return server.wait_for_hits("/canary/rollback", index + 1, 10)[index].t + MONO_TO_WALL


def floor(server: Endpoint, runs: int) -> list[float]:
    """A direct POST: client send to server arrival, on a warm connection."""
    samples = []
    with httpx.Client() as client:
        client.post(server.url("/floor"), json={})
        for i in range(runs):
            sent = time.time()
            client.post(server.url("/floor"), json={"i": i})
            samples.append(server.hits("/floor")[-1].t + MONO_TO_WALL - sent)
    return samples


def automatic(server: Endpoint, runs: int, tmp: Path, load: str, targets: int, freeze: bool) -> list[float]:
    feeder = Feeder(every=0.01)
    samples = []
    with running(write_config(tmp, http_actuator(server.url("")), CONFIG, load), feeder) as engine:
        wait_collecting(engine, targets)
        settle(freeze)
        for i in range(runs):
            feeder.set(CANARY, 0.001)
            time.sleep(0.15)  # the window holds only good values again
            assert engine.submit(Command("rollout.start")).result(10).ok
            feeder.set(CANARY, 0.05)
            wait_until(lambda: status(engine) == "rolled-back", 10, "the automatic rollback", engine)
            hit = arrival(server, i)
            events = [e for e in engine.snapshot().events if e.message.startswith("rolling back from")]
            assert events, "no rollback event"
            decided = _decided_at(tmp, i)
            samples.append(hit - decided)
    return samples


def settle(freeze: bool) -> None:
    """What opsconsole does once its engine runs (engine/heap.py), unless `--no-freeze`."""
    if freeze:
        print(f"start-up objects frozen for the collector: {freeze_startup_objects()}")


def _decided_at(tmp: Path, index: int) -> float:
    import sqlite3

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{tmp / 'history.db'}?mode=ro", uri=True) as conn:
            rows = conn.execute("SELECT data FROM events WHERE message LIKE 'rolling back from%' ORDER BY id").fetchall()
        if len(rows) > index:
            return float(json.loads(rows[index][0])["decided_at"])
        time.sleep(0.05)
    raise AssertionError("the rollback event with decided_at was not written")


Keys = dict[str, list[float]]


async def keypress(server: Endpoint, runs: int, tmp: Path, load: str, targets: int,
                   freeze: bool) -> tuple[Keys, list[float]]:
    """Per run: y -> actuator call, and its stages; and the loop probe's samples over the runs."""
    from console.app import OpsConsoleApp

    out: Keys = {"total": [], "ui": [], "wake": [], "engine": []}
    config = CONFIG.replace("consecutive: 1", "consecutive: 1000")
    with running(write_config(tmp, http_actuator(server.url("")), config, load)) as engine:
        wait_collecting(engine, targets)
        app = OpsConsoleApp(engine, refresh=1.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            settle(freeze)
            with LoopProbe(engine) as probe, stages(engine) as seen:
                for i in range(runs):
                    assert engine.submit(Command("rollout.start")).result(10).ok
                    app.refresh_now()
                    await pilot.pause()
                    await pilot.press("R", "enter")
                    await pilot.pause()
                    await asyncio.sleep(0.05 + (i % 10) / 10)  # land anywhere in the collection second
                    pressed = time.time()
                    await pilot.press("y")
                    hit = await asyncio.to_thread(arrival, server, i)
                    submitted, started = seen["submitted"][-1], seen["started"][-1]
                    out["total"].append(hit - pressed)
                    out["ui"].append(submitted - pressed)
                    out["wake"].append(started - submitted)
                    out["engine"].append(hit - started)
                    await app.workers.wait_for_complete()
    return out, probe.samples


def figures(samples: list[float]) -> dict[str, float]:
    """median, p99 and max in milliseconds."""
    ms = sorted(s * 1000 for s in samples)
    return {"median_ms": round(statistics.median(ms), 2), "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 2),
            "max_ms": round(ms[-1], 2)}


def show(name: str, samples: list[float], floor: dict[str, float] | None = None, target: bool = True) -> dict[str, float]:
    f = figures(samples)
    line = f"{name:<38} median {f['median_ms']:6.1f}  p99 {f['p99_ms']:6.1f}  max {f['max_ms']:6.1f} ms"
    if floor is not None:
        line += f"  (max {f['max_ms'] / floor['max_ms']:5.1f}x the floor's max)"
    if target:
        line += "  target max <= 100 ms: " + ("OK" if f["max_ms"] <= 100 else "OVER")
    print(line)
    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--load-targets", type=int, default=500, help="targets the engine collects meanwhile")
    parser.add_argument("--no-freeze", action="store_true",
                        help="leave the start-up objects to the collector (opsconsole freezes them: engine/heap.py)")
    parser.add_argument("--in-process-server", action="store_true",
                        help="the actuator's server as a thread of this process (waits for the GIL with the console)")
    parser.add_argument("--switch-interval", type=float, help="ms: sys.setswitchinterval for this run (default 5)")
    args = parser.parse_args()
    if args.switch_interval:  # how long a thread waiting for the GIL waits for the UI (or engine) thread
        sys.setswitchinterval(args.switch_interval / 1000)
    with actuator_endpoint(args.in_process_server) as server, tempfile.TemporaryDirectory() as tmp:
        for sub in ("auto", "keys"):
            (Path(tmp) / sub).mkdir()
        load_server, port = start_server(Path(tmp)) if args.load_targets > 0 else (None, None)
        try:
            load = load_section(port, args.load_targets)
            base = floor(server, args.runs)
            auto = automatic(server, args.runs, Path(tmp) / "auto", load, args.load_targets, not args.no_freeze)
            server.clear()
            keys, loop = asyncio.run(keypress(server, max(10, args.runs), Path(tmp) / "keys", load, args.load_targets,
                                              not args.no_freeze))
        finally:
            if load_server is not None:
                load_server.stdin.close()  # type: ignore[union-attr]
                load_server.wait(5)
    print(f"under load: the engine collects {args.load_targets} targets every second; {len(keys['total'])} keypresses")
    post = show("floor: direct POST, send to arrival", base, target=False)
    wake = show("floor: loop wake-up under load", loop, target=False)
    auto_f = show("deciding check -> actuator call", auto, post)
    keys_f = show("confirming key (y) -> actuator call", keys["total"], wake)
    show("  y -> submitted (UI thread)", keys["ui"], target=False)
    show("  submitted -> started on the loop", keys["wake"], target=False)
    show("  started -> actuator call arrives", keys["engine"], target=False)
    print(json.dumps({"bench": "reaction", "load_targets": args.load_targets,
                      "switch_interval_ms": round(sys.getswitchinterval() * 1000, 3), "frozen": not args.no_freeze, "server_in_process": args.in_process_server, "key": keys_f, "automatic": auto_f,
                      "floor_loop_wake": wake, "floor_post": post,
                      "key_max_over_floor_max": round(keys_f["max_ms"] / wake["max_ms"], 2)}))


if __name__ == "__main__":
    main()
