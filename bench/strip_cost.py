"""Cost of turning a panel line into a Strip: PanelBody's own (`_line_strip`) against Textual's
Visual.to_strips, on the lines the six panels show for console_fakes.DemoSource, same process.

    python bench/strip_cost.py [--rounds 20]

Prints microseconds per line for each and the ratio; ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "console"))


async def measure(rounds: int) -> dict[str, float]:
    from console_fakes import DemoSource
    from textual.visual import Visual

    from console.app import OpsConsoleApp
    from console.panels.base import to_content

    app = OpsConsoleApp(DemoSource(), refresh=60.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        work = [(p.body, line) for p in app.panels for line in p.body.lines]
        timings = {"ours_us": 0.0, "textual_us": 0.0}
        for _ in range(rounds):
            t0 = time.perf_counter()
            for body, line in work:
                body._line_strip(line, body.size.width)
            t1 = time.perf_counter()
            for body, line in work:
                Visual.to_strips(body, to_content(line), body.size.width, 1, body.visual_style)
            t2 = time.perf_counter()
            timings["ours_us"] += t1 - t0
            timings["textual_us"] += t2 - t1
        n = rounds * len(work)
        out = {k: round(v / n * 1e6, 2) for k, v in timings.items()}
        out["lines"] = len(work)
        out["ratio"] = round(out["ours_us"] / out["textual_us"], 3)
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    result = asyncio.run(measure(args.rounds))
    print(f"{result['lines']} lines: PanelBody._line_strip {result['ours_us']} us/line, "
          f"Visual.to_strips {result['textual_us']} us/line, ratio {result['ratio']}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
