"""What the chart screen costs while it is open, against the panels alone in the same run.

    python bench/chart_cost.py [--duration 30] [--repeat 2] [--cols 120] [--rows 40] [--draws 30]

Two figures:
  (a) the console on the demo config (state and ports private, as bench/tui_cost.py runs it), in a
      pty of cols x rows (../shared/tools/tui_probe.py), twice per repeat, interleaved: once with
      the panels only (the floor), once with a chart opened from the palette 1 s into the steady
      window ("chart: collect:baseline/requests", the live chart redrawing as points arrive).
      CPU (% of a core) and bytes/s are read from the probe's /proc samples from `--settle`
      seconds after the keys to the end of the window, so opening the palette is not counted;
      RSS is the probe's steady figure (plotext is imported on the first draw: its memory shows
      here). The recording is searched for the chart's title, so a run whose chart did not open
      is reported as such, never counted.
  (b) one draw in this process: console/chart_render.render() of a 5-minute canary-vs-baseline
      chart (two lines of 300 points, a threshold, three stage marks) at cols x rows, median of
      `--draws`, against plotext drawing the same two lines bare (its floor).
Ends with one JSON line. The machine is shared and noisy: read the ratios, not the absolutes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tui_cost  # noqa: E402  (bench/ is not a package: its sibling by path)

REPO = tui_cost.REPO
sys.path.insert(0, str(REPO))
KEY = "collect:baseline/requests"
TITLE = f"Chart · {KEY}".encode()
# ctrl+p opens the palette; the query, then enter once its hits are listed.
OPEN_CHART = ["--keys", "1:\x10", "--keys", f"2:chart: {KEY}", "--keys", "3.5:\r"]


def console_run(probe: Any, args: argparse.Namespace, chart: bool) -> dict[str, Any]:
    label = "chart" if chart else "panels"
    with tempfile.TemporaryDirectory(prefix="opsconsole-chart-") as state:
        cmd = [sys.executable, "-m", "console", "--config", str(tui_cost.private_config(REPO, state))]
        record = Path(state) / "screen"
        argv = tui_cost.probe_args(args, "Rollout", label, [f"XDG_STATE_HOME={state}", f"PYTHONPATH={REPO}"])
        argv += ["--record", str(record), *(OPEN_CHART if chart else [])]
        samples: list[dict[str, Any]] = []
        original = probe.sample_tree

        def sample_tree(root: int, want_pss: bool) -> dict[str, Any]:
            s = original(root, want_pss)  # the probe adds "bytes" to this same dict afterwards
            s["ticks"] = tui_cost._process_ticks(root)
            samples.append(s)
            return s

        probe.sample_tree = sample_tree
        try:
            result = tui_cost.run_probe(probe, argv, cmd)
        finally:
            probe.sample_tree = original
        opened = TITLE in record.with_suffix(".raw").read_bytes()
    result["chart_opened"] = opened
    if result.get("startup_s") is None or len(samples) < 3:
        return result
    t_end = samples[-1]["t"]
    since = t_end - args.duration + (3.5 + args.settle)  # the window's start, then keys and settle
    first = min((s for s in samples if s["t"] >= since), key=lambda s: s["t"], default=None)
    last = samples[-1]
    if first is not None and last["t"] > first["t"]:
        wall = last["t"] - first["t"]
        result["cpu_pct_open"] = round(100.0 * (last["ticks"] - first["ticks"]) / tui_cost.CLK_TCK / wall, 2)
        result["bytes_per_s_open"] = round((last["bytes"] - first["bytes"]) / wall, 1)
        result["measured_s"] = round(wall, 1)
    return result


def draw_times(args: argparse.Namespace) -> dict[str, float]:
    from console.chart_model import ChartData, ChartLine, Mark, Threshold  # noqa: PLC0415
    from console.chart_render import plotext, render  # noqa: PLC0415

    t1 = 1_700_000_300.0
    times = tuple(t1 - 299 + i for i in range(300))
    canary = tuple(0.01 + 0.004 * ((i * 7919) % 13) / 13 for i in range(300))
    baseline = tuple(0.008 + 0.003 * ((i * 104729) % 11) / 11 for i in range(300))
    data = ChartData(KEY, "ratio", t1 - 300, t1,
                     (ChartLine("canary", "c", times, canary), ChartLine("baseline", "b", times, baseline)),
                     (Threshold("rule error_rate > 1.0%", 0.01),),
                     (Mark(t1 - 240, "10%"), Mark(t1 - 150, "25%"), Mark(t1 - 60, "50%")))
    width, height = args.cols - 2, args.rows - 6  # the screen's border and its text lines
    render(data, width, height)  # the import and plotext's first-figure set-up, not counted
    ours = []
    for _ in range(args.draws):
        start = time.perf_counter()
        render(data, width, height)
        ours.append(time.perf_counter() - start)
    plt = plotext()
    bare = []
    for _ in range(args.draws):
        start = time.perf_counter()
        f = plt.figure  # plotext 6's one figure: the same calls render() makes, nothing more
        f.clear()
        f.plot_size(width, height)
        for values in (canary, baseline):
            line = f.signal([t - t1 for t in times], list(values))
            line.lines()
            f.draw(line)
        f.build().string()
        bare.append(time.perf_counter() - start)
    return {"draw_ms": round(1000 * statistics.median(ours), 2),
            "draw_ms_plotext_bare": round(1000 * statistics.median(bare), 2)}


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "—"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="steady window per run, s")
    parser.add_argument("--warmup", type=float, default=5.0, help="skipped after the first frame, s")
    parser.add_argument("--settle", type=float, default=2.0, help="after the chart opens, not counted, s")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved panels/chart pairs")
    parser.add_argument("--cols", type=int, default=120)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--draws", type=int, default=30, help="in-process draws timed for (b)")
    args = parser.parse_args()
    probe = tui_cost.load_probe()
    runs: dict[str, list[dict[str, Any]]] = {"panels": [], "chart": []}
    for _ in range(args.repeat):
        runs["panels"].append(console_run(probe, args, chart=False))
        runs["chart"].append(console_run(probe, args, chart=True))
    if not all(r["chart_opened"] for r in runs["chart"]):
        print("the chart did not open in every chart run: its figures are not counted", file=sys.stderr)
    figures: dict[str, Any] = {}
    for label, rows in runs.items():
        good = [r for r in rows if "cpu_pct_open" in r and (label == "panels" or r["chart_opened"])]
        for field in ("cpu_pct_open", "bytes_per_s_open", "rss_mb_steady"):
            values = [r[field] for r in good if r.get(field) is not None]
            figures[f"{field}_{label}"] = round(statistics.median(values), 2) if values else None
    figures.update(draw_times(args))

    print(f"{'':26}{'CPU % core':>14}{'bytes/s':>14}{'RSS MB':>14}")
    for label in ("panels", "chart"):
        print(f"{label:26}" + "".join(f"{figures[f'{f}_{label}'] if figures[f'{f}_{label}'] is not None else '—':>14}"
                                      for f in ("cpu_pct_open", "bytes_per_s_open", "rss_mb_steady")))
    print(f"{'chart / panels':26}" + "".join(
        f"{_ratio(figures[f'{f}_chart'], figures[f'{f}_panels']):>14}"
        for f in ("cpu_pct_open", "bytes_per_s_open", "rss_mb_steady")))
    print(f"\none draw at {args.cols - 2}x{args.rows - 6}: {figures['draw_ms']} ms (median of {args.draws}); "
          f"plotext bare, same two lines: {figures['draw_ms_plotext_bare']} ms "
          f"({_ratio(figures['draw_ms'], figures['draw_ms_plotext_bare'])})")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
