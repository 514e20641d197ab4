"""What rendering a second's frame costs: our compositor against Textual's own, in the same run.

    python bench/frame_render.py [--seconds 120] [--rounds 3]

The console (tests/console/console_fakes.py's DemoSource: every panel changing, a new point each
second) at 120x40 under Textual's headless driver, the clock stepped one second per frame. Each
round runs the same frames twice, once with Textual's own compositor (the floor: what the screen
did before console/compositor.py) and once with ours, and times `render_update` and counts the
lines each widget class was asked for. Prints ms per frame for both and their ratio, then one
JSON line. Headless: no bytes reach a terminal, so this is the rendering alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests" / "console")]

from console_fakes import T0, DemoSource  # noqa: E402
from textual._compositor import Compositor  # noqa: E402
from textual.geometry import Region  # noqa: E402
from textual.widget import Widget  # noqa: E402

from console.app import OpsConsoleApp  # noqa: E402
from console.compositor import DirtyRowsCompositor  # noqa: E402


async def run(compositor: type[Compositor], seconds: int) -> tuple[float, Counter[str]]:
    """Seconds spent in render_update over `seconds` frames, and lines rendered per widget class."""
    now = [T0]
    app = OpsConsoleApp(DemoSource(clock=lambda: now[0]), refresh=3600.0)
    lines: Counter[str] = Counter()
    spent = 0.0
    original = Widget.render_lines

    def counted(widget: Widget, crop: Region) -> list:  # type: ignore[type-arg]
        lines[type(widget).__name__] += crop.height
        return original(widget, crop)

    async with app.run_test(size=(120, 40)) as pilot:
        app.screen._compositor = compositor()
        app.screen.refresh()
        await pilot.pause()
        render = app.screen._compositor.render_update

        def timed(*args: object, **kwargs: object) -> object:
            nonlocal spent
            started = time.perf_counter()
            try:
                return render(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                spent += time.perf_counter() - started

        app.screen._compositor.render_update = timed  # type: ignore[method-assign]
        Widget.render_lines = counted  # type: ignore[method-assign]
        try:
            for second in range(1, seconds + 1):
                now[0] = T0 + second
                app.refresh_now()
                await pilot.pause()
        finally:
            Widget.render_lines = original  # type: ignore[method-assign]
    return spent, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=120, help="frames per run, one per second of data")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each, interleaved; the best is kept")
    args = parser.parse_args()
    stock, ours = [], []
    for _ in range(args.rounds):
        stock_s, stock_lines = asyncio.run(run(Compositor, args.seconds))
        ours_s, ours_lines = asyncio.run(run(DirtyRowsCompositor, args.seconds))
        stock.append(stock_s)
        ours.append(ours_s)
    floor_ms, ours_ms = 1000 * min(stock) / args.seconds, 1000 * min(ours) / args.seconds
    print(f"render_update per frame: Textual's compositor {floor_ms:.3f} ms, ours {ours_ms:.3f} ms "
          f"= {ours_ms / floor_ms:.2f}x the floor")
    print("lines rendered per frame (Textual's -> ours):")
    for name in sorted(stock_lines, key=lambda n: -stock_lines[n]):
        print(f"  {name:20s} {stock_lines[name] / args.seconds:6.1f} -> {ours_lines[name] / args.seconds:6.1f}")
    print(json.dumps({"frames": args.seconds, "render_ms_floor": round(floor_ms, 3), "render_ms": round(ours_ms, 3),
                      "ratio_floor": round(ours_ms / floor_ms, 3),
                      "lines_per_frame_floor": round(sum(stock_lines.values()) / args.seconds, 1),
                      "lines_per_frame": round(sum(ours_lines.values()) / args.seconds, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
