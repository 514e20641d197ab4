"""What `opsconsole config check` costs on hostile or wrong input, against a real config.

    python bench/config_input.py [--rounds 5]

Each case runs as its own `config check` process, `--rounds` times; the figures are the median
wall time and the peak RSS (ru_maxrss of the child), printed as a ratio against the floor measured
in the same run — `config check` of the root config.yaml, a real config:

- big: a 50 MB file of valid YAML (issue 18: 400 s and 2.4 GB before the size limit);
- bomb: a 350-byte alias bomb that expands to 387 million values (350 MB in 10 s before);
- deep: a document nested 50,000 levels (a traceback before).

Ends with one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_config_limits import alias_bomb  # noqa: E402  (the same bomb the test refuses)


def big_file(path: Path, size: int = 50_000_000) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("profiles:\n")
        index = 0
        while handle.tell() < size:
            handle.write(f"  p{index}: {{ui: {{refresh: 1s, theme: opsconsole-dark}}}}\n")
            index += 1
    return path


def deep_file(path: Path) -> Path:
    path.write_text("profiles: {p: " + "[" * 50_000 + "]" * 50_000 + "}\n", encoding="utf-8")
    return path


def run(path: Path) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit code) of one `config check` process."""
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "console", "config", "check", str(path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_maxrss / 1024, status >> 8


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        cases = {
            "floor (root config.yaml)": ROOT / "config.yaml",
            "big (50 MB)": big_file(base / "big.yaml"),
            "bomb (alias)": alias_bomb(base / "bomb.yaml"),
            "deep (50,000 levels)": deep_file(base / "deep.yaml"),
        }
        results: dict[str, tuple[float, float, int]] = {}
        for name, path in cases.items():
            runs = [run(path) for _ in range(args.rounds)]
            results[name] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs), runs[0][2])
    floor_wall, floor_rss, _ = results["floor (root config.yaml)"]
    print(f"{'case':<26} {'wall':>8} {'x floor':>8} {'peak RSS':>10} {'x floor':>8} {'exit':>5}")
    for name, (wall, rss, code) in results.items():
        print(f"{name:<26} {wall * 1000:>6.0f}ms {wall / floor_wall:>7.2f}x {rss:>8.1f}MB {rss / floor_rss:>7.2f}x {code:>5}")
    figures = {
        "floor_ms": round(floor_wall * 1000), "floor_rss_mb": round(floor_rss, 1),
        **{f"{key}_ms": round(results[name][0] * 1000) for key, name in
           (("big", "big (50 MB)"), ("bomb", "bomb (alias)"), ("deep", "deep (50,000 levels)"))},
        **{f"{key}_rss_mb": round(results[name][1], 1) for key, name in
           (("big", "big (50 MB)"), ("bomb", "bomb (alias)"), ("deep", "deep (50,000 levels)"))},
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
