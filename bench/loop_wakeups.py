"""The engine loop's wake-ups per second, by cause, on the demo config or the real one (issue 20).

    python bench/loop_wakeups.py [--real] [--duration 20] [--warmup 5] [--top 25]

Runs the engine embedded (its own loop in its own thread, as under the console; no terminal UI:
the UI only reads engine.snapshot(), which does not touch the loop) on the same configs as
bench/tui_cost.py: the repo's demo config with private ports and demo dir, or `--real`
(REAL_CONFIG there, against bench/real_services.py in its own process).

A wake-up is one return of the loop's selector.select() that was allowed to sleep (timeout not 0),
i.e. one epoll_wait the thread slept in. Its cause is the first callback the loop then runs (the
self-pipe's reader skipped): a timer (an asyncio.sleep, a call_later) or an I/O or thread hand-off
(a socket, run_in_executor / to_thread finishing, call_soon_threadsafe), named by the task it wakes
and where that task is suspended (coroutine qualname:line, innermost frame). Also counted: loop
iterations (every select, 0 timeouts included), callbacks run, and the engine thread's CPU time
(the counting adds a little: compare CPU with bench/tui_cost.py, not here).

The floor, measured in the same run: an idle asyncio loop in a thread with one 1 s timer
(1 wake-up a second), and its CPU. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import asyncio.events
import collections
import json
import os
import selectors
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

ENGINE_THREAD = "opsconsole-engine"


class Counter:
    """Counts the select() returns and the callbacks of the loops running in threads named `thread`."""

    def __init__(self, thread: str) -> None:
        self.thread = thread
        self.on = False
        self.wakeups: collections.Counter[str] = collections.Counter()
        self.run_count = 0
        self.iterations = 0
        self.woken = 0
        self._pending: str | None = None  # the current wake-up, until its first callback names it
        self._installed: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        counter = self
        original_select = selectors.EpollSelector.select
        original_run = asyncio.events.Handle._run

        def select(self: selectors.EpollSelector, timeout: float | None = None) -> Any:
            if threading.current_thread().name != counter.thread:
                return original_select(self, timeout)
            events = original_select(self, timeout)
            if counter.on:
                counter.iterations += 1
                if counter._pending is not None:  # woke, but ran nothing but the self-pipe
                    counter.wakeups[counter._pending] += 1
                counter._pending = None
                if timeout is None or timeout > 0:
                    counter.woken += 1
                    counter._pending = "(nothing run)"
            return events

        def run(self: asyncio.events.Handle) -> None:
            if counter.on and threading.current_thread().name == counter.thread:
                counter.run_count += 1
                if counter._pending is not None:  # described only when it is a wake-up's first callback
                    what = describe(self)
                    if what != "self-pipe":
                        counter.wakeups[what] += 1
                        counter._pending = None
            original_run(self)

        selectors.EpollSelector.select = select  # type: ignore[method-assign]
        asyncio.events.Handle._run = run  # type: ignore[method-assign]


def _where(task: asyncio.Task[Any]) -> str:
    """The task's coroutine and the innermost frame it is suspended in, outside asyncio itself."""
    coro: Any = task.get_coro()
    name = getattr(coro, "__qualname__", repr(coro))
    here = None
    inner = coro
    while inner is not None:
        frame = getattr(inner, "cr_frame", None) or getattr(inner, "gi_frame", None)
        if frame is not None and "asyncio" not in frame.f_code.co_filename:
            code = frame.f_code
            here = f"{os.path.basename(code.co_filename)[:-3]}.{code.co_qualname}:{frame.f_lineno}"
        nxt = getattr(inner, "cr_await", None) or getattr(inner, "gi_yieldfrom", None)
        inner = nxt if nxt is not None and (hasattr(nxt, "cr_frame") or hasattr(nxt, "gi_frame")) else None
    return name if here is None else f"{here}"


def _future_waiter(fut: Any) -> str | None:
    """Who waits for `fut`: the task whose wake-up is among its callbacks (through a gather or a
    chained future), else the first callback's name."""
    names = []
    for callback, _ctx in getattr(fut, "_callbacks", None) or ():
        owner = getattr(callback, "__self__", None)
        if isinstance(owner, asyncio.Task):
            return _where(owner)
        if isinstance(owner, asyncio.Future):
            found = _future_waiter(owner)
            if found:
                return found
        name = getattr(callback, "__qualname__", "")
        if name and "_call_check_cancel" not in name:
            names.append(name)
    return names[0] if names else None


def describe(handle: asyncio.events.Handle) -> str:
    callback: Any = handle._callback
    args = handle._args or ()
    kind = "timer" if isinstance(handle, asyncio.TimerHandle) else "ready"
    name = getattr(callback, "__qualname__", type(callback).__name__)
    owner = getattr(callback, "__self__", None)
    if name.endswith("_read_from_self"):
        return "self-pipe"
    if isinstance(owner, asyncio.Task):  # Task.__step / __wakeup scheduled directly
        return f"{kind}: task {_where(owner)}"
    if name == "_set_result_unless_cancelled" and args:  # asyncio.sleep's timer
        return f"timer: sleep in {_future_waiter(args[0]) or '?'}"
    if name.endswith("_set_state") and args:  # wrap_future: run_in_executor / to_thread done
        return f"thread done -> {_future_waiter(args[0]) or '?'}"
    if name.endswith("_run_until_complete_cb"):
        return "run_until_complete"
    protocol = getattr(owner, "_protocol", None)
    if protocol is not None:  # a socket's data: name the protocol reading it
        return f"socket: {type(protocol).__module__}.{type(protocol).__qualname__}"
    if owner is not None:
        return f"{kind}: {type(owner).__module__}.{type(owner).__qualname__}.{getattr(callback, '__name__', name)}"
    return f"{kind}: {getattr(callback, '__module__', '?')}.{name}"


def thread_cpu(name: str) -> float:
    """CPU seconds of the thread named `name` (threading's ident -> native id -> /proc)."""
    for t in threading.enumerate():
        if t.name == name and t.native_id is not None:
            data = Path(f"/proc/self/task/{t.native_id}/stat").read_bytes()
            fields = data[data.rfind(b")") + 2:].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def threads_cpu() -> dict[str, float]:
    """CPU seconds of every live thread of this process, by name (threading's names)."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for t in threading.enumerate():
        try:
            data = Path(f"/proc/self/task/{t.native_id}/stat").read_bytes()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2:].split()
        out[t.name] = out.get(t.name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def measure_engine(args: argparse.Namespace, state: str, counter: Counter) -> dict[str, Any]:
    import tui_cost

    from engine.config.loader import load_config
    from engine.runtime import Engine

    services = None
    os.environ["XDG_STATE_HOME"] = state
    if args.real:
        services, found = tui_cost.start_services(state)
        config = tui_cost.real_config(state, found)
    else:
        config = tui_cost.private_config(REPO, state)
    try:
        engine = Engine(load_config(config))
        engine.start(timeout=30)
        try:
            time.sleep(args.warmup)
            cpu0, t0, all0 = thread_cpu(ENGINE_THREAD), time.monotonic(), threads_cpu()
            counter.on = True
            time.sleep(args.duration)
            counter.on = False
            wall = time.monotonic() - t0
            cpu = thread_cpu(ENGINE_THREAD) - cpu0
            others = {name: 100 * (v - all0.get(name, 0.0)) / wall for name, v in threads_cpu().items()}
        finally:
            engine.stop(timeout=10)
    finally:
        if services is not None:
            services.terminate()
            services.wait(10)
    return {"wall": wall, "cpu": cpu, "threads": {k: round(v, 2) for k, v in sorted(others.items(), key=lambda kv: -kv[1]) if v > 0}}


def measure_floor(duration: float) -> dict[str, Any]:
    """An idle asyncio loop in a thread with one 1 s timer."""
    counter = Counter("floor-loop")
    counter.install()
    stop = threading.Event()

    async def tick() -> None:
        while not stop.is_set():
            await asyncio.sleep(1.0)

    thread = threading.Thread(target=lambda: asyncio.run(tick()), name="floor-loop", daemon=True)
    thread.start()
    time.sleep(1.5)
    cpu0, t0 = thread_cpu("floor-loop"), time.monotonic()
    counter.on = True
    time.sleep(duration)
    counter.on = False
    wall = time.monotonic() - t0
    cpu = thread_cpu("floor-loop") - cpu0
    stop.set()
    return {"wakeups_per_s": round(counter.woken / wall, 2), "cpu_pct": round(100 * cpu / wall, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", action="store_true", help="the real config (bench/tui_cost.py --real's)")
    parser.add_argument("--duration", type=float, default=20.0, help="counted window, s")
    parser.add_argument("--warmup", type=float, default=5.0, help="after the engine started, s")
    parser.add_argument("--top", type=int, default=25, help="causes printed")
    parser.add_argument("--skip-floor", action="store_true")
    args = parser.parse_args()

    counter = Counter(ENGINE_THREAD)
    counter.install()
    with tempfile.TemporaryDirectory(prefix="opsconsole-wakeups-") as state:
        result = measure_engine(args, state, counter)
    wall = result["wall"]
    floor = None if args.skip_floor else measure_floor(min(args.duration, 10.0))

    per_s = counter.woken / wall
    print(f"{'real' if args.real else 'demo'} config, engine loop over {wall:.1f} s: "
          f"{per_s:.1f} wake-ups/s, {counter.iterations / wall:.1f} loop iterations/s, "
          f"{counter.run_count / wall:.1f} callbacks/s, CPU {100 * result['cpu'] / wall:.2f}% of a core")
    print("\nwake-ups/s by cause (the first callback run after the sleep):")
    for cause, n in counter.wakeups.most_common(args.top):
        print(f"  {n / wall:7.2f}  {cause}")
    print("\nCPU % of a core by thread (threads alive at both ends of the window):")
    for name, pct in result["threads"].items():
        print(f"  {pct:7.2f}  {name}")
    if floor:
        print(f"\nfloor (idle loop, one 1 s timer): {floor['wakeups_per_s']} wake-ups/s, CPU {floor['cpu_pct']}%")
    figures = {
        "config": "real" if args.real else "demo",
        "wakeups_per_s": round(per_s, 2),
        "iterations_per_s": round(counter.iterations / wall, 2),
        "callbacks_per_s": round(counter.run_count / wall, 2),
        "engine_cpu_pct": round(100 * result["cpu"] / wall, 3),
        "threads_cpu_pct": result["threads"],
        "by_cause": {k: round(v / wall, 2) for k, v in counter.wakeups.most_common(args.top)},
        "floor_wakeups_per_s": floor and floor["wakeups_per_s"],
        "floor_cpu_pct": floor and floor["cpu_pct"],
    }
    if floor and floor["wakeups_per_s"]:
        figures["wakeups_ratio_floor"] = round(per_s / floor["wakeups_per_s"], 1)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
