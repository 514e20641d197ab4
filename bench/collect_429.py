"""A healthy target beside a 429 neighbour on the same host:port, before and after issue 18 item 2.

    python bench/collect_429.py [--seconds 40] [--interval 1] [--retry-after 2] [--before 0aef50d]

One real server on 127.0.0.1 (tests/httpfixtures.py, in this process's thread) with two paths:
/limited answers nothing but 429 with Retry-After, /ok answers 200 with a small JSON document.
Three runs of the real engine, each in a child process for `--seconds`, with the default retry
and breaker settings (as the issue's operator had them):
- floor: the healthy target alone (this tree): its cadence with no neighbour, on this machine now;
- before: both targets, with the engine of commit `--before` (git archive into a temporary
  directory, put first on the child's PYTHONPATH: the checkout is not touched);
- after: both targets, with this tree's engine.
For the healthy target each prints samples (stored) against the ticks, the spacing between its
samples (median, max), gaps opened, state changes, and its median scrape time; for the limited
one its final state and state changes. Ratios are against the floor's spacing (1.0 = unaffected
by its neighbour). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def child(args: argparse.Namespace) -> None:
    """In a child process: run the engine of `args.tree` for `args.seconds`, print what it stored."""
    sys.path.insert(0, str(args.tree))
    import engine  # noqa: PLC0415 - the tree is chosen at run time
    from engine.config.loader import load_config  # noqa: PLC0415
    from engine.runtime import Engine  # noqa: PLC0415

    assert Path(engine.__file__).resolve().is_relative_to(Path(args.tree).resolve()), engine.__file__
    workdir = Path(args.workdir)
    targets = [f"{{name: ok, url: '{args.ok}', format: json, fields: {{v: v}}}}"]
    if args.limited:
        targets.insert(0, f"{{name: limited, url: '{args.limited}', format: json, fields: {{v: v}}}}")
    config = workdir / "config.yaml"
    config.write_text(
        f"store: {{path: {workdir / 'history.db'}, flush_interval: 200ms}}\n"
        "monitor: {host: {enabled: false}}\n"
        f"collect:\n  tracks:\n    - {{name: bench, interval: {args.interval}s, targets: [{', '.join(targets)}]}}\n"
    )
    eng = Engine(load_config(config))
    eng.start()
    try:
        time.sleep(args.seconds)
        states = {t.name: (t.state, t.last_error) for t in eng.snapshot().targets}
        eng.store.flush()
    finally:
        eng.stop(timeout=10)
    with sqlite3.connect(workdir / "history.db") as db:
        def series(source: str, metric: str) -> list[tuple[float, float]]:
            return db.execute("SELECT t, value FROM samples JOIN series ON series.id = series_id "
                              "WHERE source = ? AND metric = ? ORDER BY t", (source, metric)).fetchall()

        def events(source: str, kind: str) -> int:
            return db.execute("SELECT count(*) FROM events WHERE source = ? AND kind = ?", (source, kind)).fetchone()[0]

        result = {
            "ok_times": [t for t, _ in series("collect:ok", "v")],
            "ok_scrape_ms": [v for _, v in series("collect:ok", "scrape_ms")],
            "ok_state_changes": events("collect:ok", "collect"),
            "ok_gaps": db.execute("SELECT count(*) FROM events WHERE source = 'collect:ok' AND kind = 'gap' "
                                  "AND message LIKE 'gap opened%'").fetchone()[0],
            "limited_events": events("collect:limited", "collect"),
            "states": states,
        }
    print(json.dumps(result))


def run(tree: Path, ok: str, limited: str | None, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="collect429-") as workdir:
        os.chmod(workdir, 0o700)
        command = [sys.executable, __file__, "--child", str(tree), "--ok", ok, "--workdir", workdir,
                   "--seconds", str(args.seconds), "--interval", str(args.interval)]
        if limited:
            command += ["--limited", limited]
        env = {**os.environ, "PYTHONPATH": str(tree)}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.seconds + 120, check=False)
        if done.returncode != 0:
            raise SystemExit(f"child for {tree} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        raw = json.loads(done.stdout.strip().splitlines()[-1])
    steps = [b - a for a, b in itertools.pairwise(raw["ok_times"])]
    return {
        "samples": len(raw["ok_times"]),
        "ticks": int(args.seconds / args.interval),
        "median_s": statistics.median(steps) if steps else float("inf"),
        "max_s": max(steps) if steps else float("inf"),
        "gaps": raw["ok_gaps"],
        "state_changes": raw["ok_state_changes"],
        "scrape_ms": statistics.median(raw["ok_scrape_ms"]) if raw["ok_scrape_ms"] else float("nan"),
        "limited_state": raw["states"].get("limited", (None, None))[0],
        "limited_error": raw["states"].get("limited", (None, None))[1],
        "limited_state_changes": raw["limited_events"],
    }


def old_tree(commit: str, into: Path) -> Path:
    """`commit`'s engine (and the tests package it may import) in a temporary directory."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "engine"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def show(label: str, r: dict[str, Any], floor: dict[str, Any]) -> None:
    print(f"{label:<8} healthy: {r['samples']:>4} samples / {r['ticks']} ticks, spacing median {r['median_s']:.3f}s "
          f"({r['median_s'] / floor['median_s']:.2f}x floor), max {r['max_s']:.3f}s ({r['max_s'] / floor['max_s']:.2f}x), "
          f"{r['gaps']} gaps, {r['state_changes']} state changes, scrape {r['scrape_ms']:.1f} ms")
    if r["limited_state"]:
        print(f"{'':<8} limited: {r['limited_state']} after {r['limited_state_changes']} state/circuit events: "
              f"{r['limited_error']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--retry-after", type=int, default=2)
    parser.add_argument("--before", default="0aef50d", help="the commit measured as 'before'")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ok", help=argparse.SUPPRESS)
    parser.add_argument("--limited", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.tree = args.child
        child(args)
        return
    sys.path.insert(0, str(REPO))
    from tests.httpfixtures import HttpFixture, Reply, json_reply  # noqa: PLC0415

    with HttpFixture(record=False) as server, tempfile.TemporaryDirectory(prefix="collect429-old-") as old:
        server.route("/limited", Reply(429, "slow down", {"Retry-After": str(args.retry_after)}))
        server.route("/ok", json_reply({"v": 1}))
        ok, limited = server.url("/ok"), server.url("/limited")
        print(f"healthy target every {args.interval:g}s beside one answering 429 (Retry-After {args.retry_after}s) "
              f"on 127.0.0.1:{server.port}, {args.seconds:g}s per run")
        floor = run(REPO, ok, None, args)
        before = run(old_tree(args.before, Path(old)), ok, limited, args)
        after = run(REPO, ok, limited, args)
    show("floor", floor, floor)
    show("before", before, floor)
    show("after", after, floor)
    summary = {
        "bench": "collect_429", "interval_s": args.interval, "retry_after_s": args.retry_after, "seconds": args.seconds,
        "before_commit": args.before,
        **{f"{label}_{key}": value for label, r in (("floor", floor), ("before", before), ("after", after))
           for key, value in r.items() if key != "limited_error"},
        "before_median_ratio": before["median_s"] / floor["median_s"],
        "before_max_ratio": before["max_s"] / floor["max_s"],
        "after_median_ratio": after["median_s"] / floor["median_s"],
        "after_max_ratio": after["max_s"] / floor["max_s"],
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
