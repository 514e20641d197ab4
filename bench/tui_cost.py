"""What the console costs, split by thread, against Textual's floors measured in the same run.

    python bench/tui_cost.py [--duration 30] [--warmup 5] [--cols 120] [--rows 40]
                             [--before /tmp/before] [--args "--low-bandwidth"] [--skip-floors] [--where]

One run measures, one after the other on the same machine (../shared/tools/tui_probe.py: CPU of the
process tree, RSS, bytes/s written to a pty of cols x rows):
  (a) `opsconsole` on the repo's demo config (state in a temp dir), started through
      bench/named_threads.py so that /proc/PID/task/TID/comm carries each Python thread's name;
      the per-thread CPU over the steady window is read from /proc/PID/task/*/stat at every
      probe sample and printed grouped: UI thread, engine loop, demo service, workers, ...;
  (b) the demo service alone, `python -m engine.demo --measure-cpu` with the demo config's load;
  (c) the floors: Textual's live floor (six stock Sparklines at 1 Hz), Textual's static floor
      (Header + Footer + Static, no timers), and htop / glances when installed;
  and with `--before DIR` (a clean clone at an older commit), (a) again from DIR, interleaved, so a
  change is judged against a "before" measured in the same run.

"console + engine" is the whole process minus the demo service's threads (the demo runs inside the
process on the demo config; on a real config there is none). Ends with one JSON line.
The machine is shared and noisy: compare ratios against the same-run floors, not absolute numbers.
Targets (issue 20): console + engine <= 1.7% of a core, whole-process RSS <= 60 MB, <= 2 KB/s to
the terminal, first full frame <= 1.2x the static floor's.

`--real`: instead of the demo config, a real one (REAL_CONFIG below, in the temp dir): 4 Prometheus
targets at 1 s, one nginx_json access log being appended to, host monitoring, a rollout with an
http actuator, against bench/real_services.py started as its own process (its CPU is not counted;
the demo-alone run is skipped). Target: the whole process <= 1.0% of a core.

Profiling (bench-only, not a package dependency): `pip install py-spy`, then e.g.
    py-spy record --gil --rate 200 --duration 60 -o /tmp/ui.svg --pid PID
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
TOOLS = REPO.parent / "shared" / "tools"
CLK_TCK = os.sysconf("SC_CLK_TCK")
FIELDS = ("startup_s", "cpu_pct_steady", "rss_mb_steady", "rss_mb_peak", "bytes_per_s_steady")
# Thread name (kernel comm, 15 bytes) -> the part of the program it belongs to; first match wins.
GROUPS = (
    ("ui", re.compile(r"^MainThread$")),
    ("textual io", re.compile(r"^textual-")),
    ("engine loop", re.compile(r"^opsconsole-eng")),
    ("demo", re.compile(r"^demo-")),
    ("store writer", re.compile(r"^store-writer")),
    ("watch/log", re.compile(r"^(watch:|log:|notify-rs)")),
    ("workers", re.compile(r"^(asyncio_|AnyIO|ThreadPool)")),
)


def load_probe() -> ModuleType:
    sys.path.insert(0, str(TOOLS))
    import tui_probe  # the shared tool, used in-process so every /proc sample can also read threads

    return tui_probe


class ThreadSampler:
    """Wraps tui_probe.sample_tree: each probe sample also records the root's per-thread CPU."""

    def __init__(self, probe: ModuleType) -> None:
        self.probe = probe
        self.original = probe.sample_tree
        self.samples: list[tuple[float, float, dict[int, tuple[str, int]]]] = []

    def __enter__(self) -> ThreadSampler:
        def sample_tree(root: int, want_pss: bool) -> dict[str, Any]:
            result = self.original(root, want_pss)
            self.samples.append((result["t"], _process_ticks(root), _threads(root)))
            return result

        self.probe.sample_tree = sample_tree
        return self

    def __exit__(self, *exc: object) -> None:
        self.probe.sample_tree = self.original

    def split(self, duration: float, exited: Path | None = None) -> dict[str, float]:
        """CPU % of a core per group over the steady window: its last sample is the window's end
        (the probe samples no more once it starts stopping), its first the one `duration` before."""
        if len(self.samples) < 2 or duration <= 0:
            return {}
        t_end, total_end, end = self.samples[-1]
        t_start, total_start, start = min(self.samples, key=lambda s: abs(s[0] - (t_end - duration)))
        wall = t_end - t_start
        groups: dict[str, float] = defaultdict(float)
        for tid, (name, ticks) in end.items():
            before = start.get(tid, (name, 0))[1]
            groups[_group(name)] += (ticks - before) / CLK_TCK
        live = sum(groups.values())
        # Threads that ended inside the window (demo connections, workers) left their time in the
        # process's own counters only; the launcher logged each one's CPU and name as it ended.
        named = 0.0
        if exited is not None and exited.exists():
            for row in exited.read_text().splitlines():
                ended, cpu, name = row.split(" ", 2)
                if t_start < float(ended) <= t_end:
                    groups[_group(name[:15]) + " (ended)"] += float(cpu)
                    named += float(cpu)
        rest = (total_end - total_start) / CLK_TCK - live - named
        if rest > 0.5 / CLK_TCK:
            groups["unattributed"] += rest  # per-thread tick rounding, threads that ended unlogged
        return {k: round(100.0 * v / wall, 2) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])}


def _group(name: str) -> str:
    for group, pattern in GROUPS:
        if pattern.search(name):
            return group
    return "other"


def _process_ticks(pid: int) -> int:
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return 0
    fields = data[data.rfind(b")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def _threads(pid: int) -> dict[int, tuple[str, int]]:
    out: dict[int, tuple[str, int]] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            data = Path(f"/proc/{pid}/task/{tid}/stat").read_bytes()
        except OSError:
            continue  # ended between listdir and read
        open_, close = data.find(b"("), data.rfind(b")")
        fields = data[close + 2:].split()
        out[int(tid)] = (data[open_ + 1:close].decode("utf-8", "replace"), int(fields[11]) + int(fields[12]))
    return out


def probe_args(args: argparse.Namespace, marker: str | None, label: str, env: list[str]) -> list[str]:
    out = ["--cols", str(args.cols), "--rows", str(args.rows), "--duration", str(args.duration),
           "--warmup", str(args.warmup), "--label", label, *[f"--env={e}" for e in env]]
    return out + (["--marker", marker] if marker else [])


def run_probe(probe: ModuleType, argv: list[str], cmd: list[str], threads: bool = False,
              exited: Path | None = None) -> dict[str, Any]:
    parser_args = _parse_probe(probe, [*argv, "--", *cmd])
    if not threads:
        return probe.run_once(parser_args, cmd)
    with ThreadSampler(probe) as sampler:
        result = probe.run_once(parser_args, cmd)
    result["threads"] = sampler.split(result.get("duration_s") or 0.0, exited)
    return result


def _parse_probe(probe: ModuleType, argv: list[str]) -> argparse.Namespace:
    """tui_probe's own argument parser, so its defaults stay its own."""
    captured: dict[str, argparse.Namespace] = {}
    original = probe.run_once

    def capture(a: argparse.Namespace, cmd: list[str]) -> dict[str, Any]:
        captured["a"] = a
        return {}

    probe.run_once = capture
    saved = sys.stdout
    try:
        sys.stdout = open(os.devnull, "w")
        probe.main(argv)
    finally:
        sys.stdout.close()
        sys.stdout = saved
        probe.run_once = original
    return captured["a"]


DEMO_PORTS = ("18470", "18471", "18472")  # config.yaml's router, baseline, canary
DEMO_DIR = "~/.local/state/opsconsole/demo"


def private_config(repo: Path, state: str) -> Path:
    """The repo's demo config with its own free ports and its demo files in `state`.

    Another console on the same machine (an engineer's, a CI run) holds the config's fixed ports
    and writes ~/.local/state/opsconsole/demo: measured as they are, our demo could not listen and
    our collectors and log tail would scrape and read the other one's service."""
    text = (repo / "config.yaml").read_text()
    for port in DEMO_PORTS:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            text = text.replace(port, str(s.getsockname()[1]))
    path = Path(state) / "config.yaml"
    path.write_text(text.replace(DEMO_DIR, f"{state}/demo"))
    return path


REAL_CONFIG = """\
# bench/tui_cost.py --real: a config without the demo. 4 targets at 1 s, one log, the host, a rollout.
demo: {{enabled: false}}
ui: {{refresh: 1s}}
monitor:
  host: {{interval: 2s, mounts: [/]}}
collect:
  tracks:
    - name: api
      interval: 1s
      timeout: 800ms
      targets:
{targets}
watch:
  - {{name: access, log: {log}, format: nginx_json, names: {names}, window: 30s}}
canary:
  service: checkout
  auto_start: true
  interval: 10s
  stages:
    - {{weight: 10, hold: 1h}}
    - {{weight: 100}}
  rules:
    - {{name: error rate, series: "log:access:canary/error_rate", baseline: "log:access:stable/error_rate",
       max: 0.05, consecutive: 3}}
  actuator:
    kind: http
    base_url: http://127.0.0.1:{router}
    set_weight: {{url: "/weight?canary={{weight}}"}}
"""


def real_config(state: str, services: dict[str, Any]) -> Path:
    """A config for the services bench/real_services.py started (their ports, their log)."""
    ports = services["targets"]
    names = ["stable", "canary", *[f"api-{i}" for i in range(2, len(ports))]]
    targets = "\n".join(f'        - {{name: {name}, url: "http://127.0.0.1:{port}/metrics", format: prometheus}}'
                        for name, port in zip(names, ports, strict=True))
    addresses = json.dumps({f"127.0.0.1:{ports[0]}": "stable", f"127.0.0.1:{ports[1]}": "canary"})
    path = Path(state) / "config.yaml"
    path.write_text(REAL_CONFIG.format(targets=targets, log=services["log"], names=addresses,
                                       router=services["router"]))
    return path


def start_services(state: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """bench/real_services.py as its own process: its servers and log writer are not measured."""
    proc = subprocess.Popen([sys.executable, str(REPO / "bench" / "real_services.py"), "--dir", state],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())


def compile_checkout(repo: Path) -> None:
    """Write the checkout's .pyc before it is measured: with PYTHONDONTWRITEBYTECODE set (this
    machine sets it) Python never writes them, so every measured start compiled the repo's modules
    from source (~0.2 s of the first frame) while the floors' Textual came compiled from its wheel."""
    for package in ("engine", "console", "themes"):
        compileall.compile_dir(repo / package, quiet=1)


def opsconsole(probe: ModuleType, args: argparse.Namespace, repo: Path, label: str) -> dict[str, Any]:
    compile_checkout(repo)
    with tempfile.TemporaryDirectory(prefix="opsconsole-bench-") as state:
        services = None
        if args.real:
            services, found = start_services(state)
            config = real_config(state, found)
        else:
            config = private_config(repo, state)
        exited = Path(state) / "threads-ended.log"
        env = [f"XDG_STATE_HOME={state}", f"PYTHONPATH={repo}", f"BENCH_THREAD_LOG={exited}"]
        cmd = [sys.executable, str(REPO / "bench" / "named_threads.py"), "-m", "console",
               "--config", str(config), *shlex.split(args.args)]
        argv = probe_args(args, "Rollout", label, env)
        record = Path(state) / "screen"
        if args.where:
            argv += ["--record", str(record)]
        try:
            result = run_probe(probe, argv, cmd, threads=True, exited=exited)
        finally:
            if services is not None:
                services.terminate()
                services.wait(10)
        if args.where and result.get("startup_s") is not None:
            result["where"] = where_bytes_go(record, result["startup_s"] + args.warmup, result["duration_s"])
    demo = sum(v for k, v in result["threads"].items() if k.startswith("demo"))
    if result.get("cpu_pct_steady") is not None:
        result["cpu_pct_demo"] = round(demo, 2)
        result["cpu_pct_console"] = round(result["cpu_pct_steady"] - demo, 2)
    return result


CURSOR_TO = re.compile(rb"\x1b\[(\d+);(\d+)H")


def where_bytes_go(record: Path, start: float, duration: float) -> dict[str, float]:
    """Bytes/s of the steady window by screen area, from tui_probe's recording: each byte counts
    for the row and column third where Textual's last cursor move put it (`ESC[row;colH`)."""
    raw = (record.with_suffix(".raw")).read_bytes()
    t, offset, begin, end = 0.0, 0, None, None
    for row in (record.with_suffix(".timing")).read_text().splitlines():
        delay, size = row.split()
        t += float(delay)
        if begin is None and t >= start:
            begin = offset
        offset += int(size)
        if t <= start + duration:
            end = offset
    if begin is None or end is None or end <= begin:
        return {}
    window = raw[begin:end]
    areas: dict[str, int] = defaultdict(int)
    at = "unplaced"
    last = 0
    for move in CURSOR_TO.finditer(window):
        areas[at] += move.start() - last
        y, x = int(move.group(1)), int(move.group(2))
        at = f"row {y:2d} cols {(x - 1) // 40 * 40 + 1:3d}+"
        last = move.start()
    areas[at] += len(window) - last
    top = sorted(areas.items(), key=lambda kv: -kv[1])
    return {k: round(v / duration, 1) for k, v in top}


def demo_alone(args: argparse.Namespace) -> float | None:
    """The demo service as its own process at the demo config's load (rps 10, 10% canary, 5 ms)."""
    with tempfile.TemporaryDirectory(prefix="opsconsole-demo-") as state:
        cmd = [sys.executable, "-m", "engine.demo", "--port", "0", "--rps", "10", "--canary-weight", "10",
               "--canary-latency", "5ms", "--dir", state, "--duration", str(args.duration),
               "--measure-cpu", "--quiet"]
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=args.duration + 60)
    found = re.search(r"demo CPU: ([\d.]+)%", out.stdout)
    return float(found.group(1)) if found else None


def floors(probe: ModuleType, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    out = {
        "textual_live": run_probe(probe, probe_args(args, "PANEL-6", "textual_live", []),
                                  [sys.executable, str(TOOLS / "textual_floor_live.py")]),
    }
    if (TOOLS / "textual_floor_static.py").exists():
        out["textual_static"] = run_probe(probe, probe_args(args, "STATIC-READY", "textual_static", []),
                                          [sys.executable, str(TOOLS / "textual_floor_static.py")])
    for tool, marker in (("htop", "Load average"), ("glances", None)):
        path = shutil.which(tool)
        if path:
            out[tool] = run_probe(probe, probe_args(args, marker, tool, []), [path])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="steady window, s")
    parser.add_argument("--warmup", type=float, default=5.0, help="skipped after the first frame, s")
    parser.add_argument("--cols", type=int, default=120)
    parser.add_argument("--rows", type=int, default=40)
    parser.add_argument("--args", default="", help='extra opsconsole arguments, e.g. "--low-bandwidth"')
    parser.add_argument("--before", type=Path, help="also measure opsconsole from this checkout (a clean clone)")
    parser.add_argument("--skip-floors", action="store_true", help="no floors, no demo alone (quick A/B)")
    parser.add_argument("--where", action="store_true", help="also print bytes/s by screen row and column third")
    parser.add_argument("--real", action="store_true",
                        help="a real config, no demo: 4 targets at 1 s, one log, host monitoring, a rollout, "
                             "against bench/real_services.py in its own process")
    args = parser.parse_args()
    if not (TOOLS / "tui_probe.py").exists():
        print(f"tui_probe.py not found in {TOOLS}", file=sys.stderr)
        return 1
    probe = load_probe()

    rows: dict[str, dict[str, Any]] = {}
    if args.before:
        rows["before"] = opsconsole(probe, args, args.before.resolve(), "before")
    rows["opsconsole"] = opsconsole(probe, args, REPO, "opsconsole")
    demo = None if args.skip_floors or args.real else demo_alone(args)
    floor = {} if args.skip_floors else floors(probe, args)
    rows.update(floor)

    print(f"{'':22}" + "".join(f"{f:>20}" for f in FIELDS))
    for label, row in rows.items():
        print(f"{label:22}" + "".join(f"{_fmt(row.get(f)):>20}" for f in FIELDS))
    ours = rows["opsconsole"]
    for label in ("textual_static", "textual_live"):
        if label in floor:
            print(f"{'ours/' + label:22}" + "".join(f"{_ratio(ours.get(f), floor[label].get(f)):>20}" for f in FIELDS))
    for label in ("before", "opsconsole"):
        if label in rows:
            row = rows[label]
            print(f"\n{label}: per-thread CPU, % of a core, steady window of {row.get('duration_s')} s")
            for group, pct in row["threads"].items():
                print(f"  {group:18}{pct:6.2f}")
            print(f"  {'console + engine':18}{_fmt(row.get('cpu_pct_console')):>6}  (whole process minus demo)")
    if ours.get("where"):
        print("\nopsconsole: bytes/s to the terminal by screen area (row, columns), steady window")
        for area, rate in list(ours["where"].items())[:25]:
            print(f"  {area:22}{rate:8.1f}")
    if demo is not None:
        print(f"\ndemo service alone (python -m engine.demo --measure-cpu): {demo:.2f}% of a core")

    static = floor.get("textual_static", {})
    figures: dict[str, Any] = {
        "config": "real" if args.real else "demo",
        "bytes_per_s": ours.get("bytes_per_s_steady"),
        "cpu_pct": ours.get("cpu_pct_steady"),
        "cpu_pct_demo": ours.get("cpu_pct_demo"),
        "cpu_pct_console": ours.get("cpu_pct_console"),
        "cpu_pct_demo_alone": demo,
        "rss_mb": ours.get("rss_mb_steady"),
        "startup_s": ours.get("startup_s"),
        "threads": ours.get("threads"),
    }
    for label, row in floor.items():
        for field, key in (("cpu_pct_steady", "cpu_pct"), ("rss_mb_steady", "rss_mb"),
                           ("bytes_per_s_steady", "bytes_per_s"), ("startup_s", "startup_s")):
            figures[f"{label}_{key}"] = row.get(field)
    if static.get("startup_s") and ours.get("startup_s"):
        figures["startup_ratio_static"] = round(ours["startup_s"] / static["startup_s"], 2)
    if static.get("rss_mb_steady") and ours.get("rss_mb_steady"):
        figures["rss_ratio_static"] = round(ours["rss_mb_steady"] / static["rss_mb_steady"], 2)
    live = floor.get("textual_live", {})
    if live.get("cpu_pct_steady") and ours.get("cpu_pct_console") is not None:
        figures["cpu_console_ratio_live"] = round(ours["cpu_pct_console"] / live["cpu_pct_steady"], 3)
    if "before" in rows:
        before = rows["before"]
        figures["before"] = {k: before.get(f) for k, f in (
            ("bytes_per_s", "bytes_per_s_steady"), ("cpu_pct", "cpu_pct_steady"), ("cpu_pct_demo", "cpu_pct_demo"),
            ("cpu_pct_console", "cpu_pct_console"), ("rss_mb", "rss_mb_steady"), ("startup_s", "startup_s"))}
    print(json.dumps(figures))
    return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.3f}"


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
