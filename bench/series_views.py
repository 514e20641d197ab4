"""SeriesBuffers.views() at 1,000 targets: 16,000 series, half of them with a new point between
two snapshots (1 s of scrapes between two 0.5 s snapshots), as the engine loop builds it.

    python bench/series_views.py [--repo DIR]    # DIR: another checkout (a clean clone), same machine

Prints milliseconds per views() call; ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    sys.path.insert(0, str(args.repo.resolve()))
    from engine.series import SeriesBuffers

    random.seed(1)
    buffers = SeriesBuffers()
    keys = [(f"collect:t{i}", f"m{j}") for i in range(1000) for j in range(16)]
    for source, metric in keys:
        for t in range(3):
            buffers.append(source, metric, float(t), 1.0)
    total = 0.0
    for r in range(args.rounds):
        for source, metric in random.sample(keys, len(keys) // 2):
            buffers.append(source, metric, 10.0 + r, 2.0)
        t0 = time.perf_counter()
        buffers.views()
        total += time.perf_counter() - t0
    ms = round(total / args.rounds * 1000, 2)
    print(f"{args.repo}: views() over {len(keys)} series, half changed: {ms} ms")
    print(json.dumps({"repo": str(args.repo), "series": len(keys), "views_ms": ms}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
