"""Does a backup leave the engine bigger? Resident memory of a real `opsconsole --headless` on the
demo config across back-to-back backups, against its floor: the same engine's drift over the same
time without backups, measured just before.

    python bench/backup_memory.py [--backups 15] [--settle 60]

To see glibc as it comes, run this file against a checkout from before engine/allocator.py (5cf0a31).

Found by the soak drill (tests/reliability/test_soak.py): each backup used to leave ~0.7 MB behind for
good (glibc kept freed SQLite and zstd buffers; engine/allocator.py). Prints RSS before and after
each phase, the growth per backup, and the ratio of the backup phase's growth to the floor's.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil  # noqa: E402

from engine.commands import Command  # noqa: E402
from tests.headlessfixtures import HeadlessProcess  # noqa: E402
from tests.reliability.test_soak import soak_config  # noqa: E402

PAUSE = 3.0  # seconds between backups: the demo keeps writing meanwhile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backups", type=int, default=15)
    parser.add_argument("--settle", type=float, default=60.0, help="seconds before measuring (rings fill)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = soak_config(Path(tmp))
        env = {**os.environ, "XDG_STATE_HOME": str(Path(tmp) / "state")}
        with HeadlessProcess(config, env=env) as engine:
            process = psutil.Process(engine.proc.pid)

            def rss() -> float:
                return process.memory_info().rss / 1e6

            time.sleep(args.settle)
            phase = args.backups * PAUSE
            start = rss()
            time.sleep(phase)
            floor = rss() - start
            before = rss()
            for _ in range(args.backups):
                with engine.client() as client:
                    result = client.command(Command("backup", {}), origin="cli", timeout=60)
                if not result.ok:
                    raise SystemExit(f"backup failed: {result.message}")
                time.sleep(PAUSE)
            growth = rss() - before
            engine.stop()
    print(f"floor   (no backups, {phase:.0f} s): {start:.1f} -> {start + floor:.1f} MB, {floor:+.1f} MB")
    print(f"backups ({args.backups} in {phase:.0f} s): {before:.1f} -> {before + growth:.1f} MB, {growth:+.1f} MB, "
          f"{growth / args.backups * 1000:+.0f} KB a backup")
    print(f"ratio backups/floor growth: {growth / floor:.1f}" if abs(floor) >= 0.05 else "floor growth ~0: no ratio")


if __name__ == "__main__":
    main()
