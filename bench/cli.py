"""What `opsconsole rollout status` costs from a plain shell, against starting Python at all.

    python bench/cli.py [--rounds 20] [--settle 5]

Starts a real headless engine on the root config.yaml (the demo and its rollout, on free ports,
in a temporary state dir, with an Alertmanager ${OPS_SECRET} the engine needs and the shell does
not have), lets it run `--settle` seconds, then runs each command `--rounds` times as separate
processes and reports the median wall time and CPU time (user+sys of the child):

- floor: `python -c pass` — the interpreter's own start, measured in the same run;
- status (no config): the engine discovered from its control socket;
- status --history DB;
- status --config FILE (store.path read alone; the secret is unset in the caller's environment);
- reference: `config check FILE` (with the secret) — loading and validating the whole config, which
  every rollout verb did before (with the socket read on top).

Bytecode caching is on in the children (PYTHONDONTWRITEBYTECODE is dropped: an installed package
has its .pyc files; without them every run compiles ~15 modules, ~15 ms more here); pass
--no-bytecode-cache to keep the caller's setting.

The no-config case runs in a private mount namespace (unshare, as tests/test_rollout_from_shell.py)
when it can, so other engines of this user on the machine are not found; otherwise it is measured
only if ours is the only engine running. Ends with one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.control.client import ControlClient, ControlUnavailable  # noqa: E402

BUDGET_MS = 150.0  # issue 16: `rollout status` answers within this on a 2-core machine
SECRET = "bench-secret-token"


def opsconsole() -> list[str]:
    """The installed console script when there is one (what an operator types), else -m console."""
    script = Path(sys.executable).with_name("opsconsole")
    return [str(script)] if script.exists() else [sys.executable, "-m", "console"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_once(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, int]:
    """(wall s, child CPU s, exit code) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode(errors='replace')[-500:]}")
    return wall, cpu, done.returncode


def measure(argv: list[str], env: dict[str, str], cwd: Path, rounds: int) -> dict[str, float]:
    run_once(argv, env, cwd)  # warm the page cache and the bytecode cache
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu, _ = run_once(argv, env, cwd)
        walls.append(wall)
        cpus.append(cpu)
    return {"wall_ms": statistics.median(walls) * 1000, "cpu_ms": statistics.median(cpus) * 1000,
            "max_wall_ms": max(walls) * 1000}


def private_namespace() -> tuple[list[str], subprocess.Popen | None]:
    """An argv prefix where /tmp/opsconsole-<uid> is an empty tmpfs, and its holder process."""
    hidden = Path("/tmp") / f"opsconsole-{os.getuid()}"
    if not (shutil.which("unshare") and shutil.which("nsenter")):
        return [], None
    hidden.mkdir(mode=0o700, exist_ok=True)
    holder = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
         'mount -t tmpfs -o mode=0700 tmpfs "$1" && echo ready && exec sleep 3600', "sh", str(hidden)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert holder.stdout is not None
    if holder.stdout.readline().strip() != "ready":
        holder.kill()
        holder.wait()
        return [], None
    return ["nsenter", f"--mount=/proc/{holder.pid}/ns/mnt", "--"], holder


def start_engine(tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen, Path, Path]:
    config = tmp / "engine.yaml"
    config.write_text((REPO / "config.yaml").read_text() + (
        "\nexport:\n  alertmanager:\n"
        f"    urls: ['http://127.0.0.1:{free_port()}']\n"
        "    headers: {Authorization: 'Bearer ${OPS_SECRET}'}\n"
    ))
    engine_env = dict(env, OPS_SECRET=SECRET, OPSCONSOLE_DEMO__DIR=str(tmp / "demo"),
                      **{f"OPSCONSOLE_DEMO__{k}": str(free_port()) for k in ("PORT", "BASELINE_PORT", "CANARY_PORT")})
    with open(tmp / "engine.stderr", "wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen([*opsconsole(), "--headless", "--config", str(config)], env=engine_env, cwd=tmp,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    db = Path(env["XDG_STATE_HOME"]) / "opsconsole" / "history.db"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"the engine exited {proc.returncode}: {(tmp / 'engine.stderr').read_text()[-2000:]}")
        try:
            with ControlClient(db) as client:  # this process's XDG_RUNTIME_DIR is the engine's
                if client.snapshot(only=("rollout",)).rollout is not None:
                    break
        except ControlUnavailable:
            if time.monotonic() > deadline:
                raise SystemExit("the engine did not answer within 60 s") from None
        time.sleep(0.2)
    return proc, config, db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds the engine runs before measuring")
    parser.add_argument("--no-bytecode-cache", action="store_true", help="keep PYTHONDONTWRITEBYTECODE if set")
    args = parser.parse_args()
    prefix, holder = private_namespace()
    with tempfile.TemporaryDirectory(prefix="opsconsole-bench-") as name:
        tmp = Path(name)
        (tmp / "run").mkdir(mode=0o700)
        (tmp / "shell").mkdir()
        dropped = ("OPS_SECRET",) if args.no_bytecode_cache else ("OPS_SECRET", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPSCONSOLE_") and k not in dropped}
        env.update(HOME=str(tmp), XDG_STATE_HOME=str(tmp / "state"), XDG_CONFIG_HOME=str(tmp / "config"),
                   XDG_RUNTIME_DIR=str(tmp / "run"))
        os.environ["XDG_RUNTIME_DIR"] = env["XDG_RUNTIME_DIR"]
        proc, config, db = start_engine(tmp, env)
        try:
            time.sleep(args.settle)
            shell = tmp / "shell"
            rows: dict[str, dict[str, float] | None] = {}
            rows["floor"] = measure([sys.executable, "-c", "pass"], env, shell, args.rounds)
            discover_ok = bool(prefix) or subprocess.run(
                [*opsconsole(), "rollout", "status"], env=env, cwd=shell, capture_output=True, check=False
            ).returncode == 0
            rows["status_discover"] = (measure([*prefix, *opsconsole(), "rollout", "status"], env, shell, args.rounds)
                                       if discover_ok else None)
            rows["status_history"] = measure([*opsconsole(), "rollout", "status", "--history", str(db)], env, shell,
                                             args.rounds)
            rows["status_config"] = measure([*opsconsole(), "rollout", "status", "--config", str(config)], env, shell,
                                            args.rounds)
            rows["config_check"] = measure([*opsconsole(), "config", "check", str(config)],
                                           dict(env, OPS_SECRET=SECRET), shell, args.rounds)
        finally:
            proc.terminate()
            proc.wait(30)
            if holder is not None:
                holder.kill()
                holder.wait()
    floor = rows["floor"]
    assert floor is not None
    cache = "off" if "PYTHONDONTWRITEBYTECODE" in env else "on"
    print(f"opsconsole rollout status, {args.rounds} runs each, median (command: {' '.join(opsconsole())}, "
          f"bytecode cache {cache})")
    labels = {"floor": "python -c pass (floor)", "status_discover": "rollout status (no config)",
              "status_history": "rollout status --history", "status_config": "rollout status --config",
              "config_check": "config check (whole config)"}
    for key, label in labels.items():
        row = rows[key]
        if row is None:
            print(f"  {label:32} skipped: other engines of this user are running and no private namespace")
            continue
        print(f"  {label:32} {row['wall_ms']:7.1f} ms wall  {row['cpu_ms']:7.1f} ms CPU  "
              f"x{row['wall_ms'] / floor['wall_ms']:5.1f} floor  (max {row['max_wall_ms']:.1f} ms)")
    statuses = [rows[k]["wall_ms"] for k in ("status_discover", "status_history", "status_config") if rows[k]]
    figures = {"bench": "cli", "rounds": args.rounds, "bytecode_cache": cache, "budget_ms": BUDGET_MS,
               "within_budget": all(ms <= BUDGET_MS for ms in statuses)}
    for key, row in rows.items():
        figures[f"{key}_wall_ms"] = round(row["wall_ms"], 1) if row else None
        figures[f"{key}_cpu_ms"] = round(row["cpu_ms"], 1) if row else None
        if row and key != "floor":
            figures[f"{key}_x_floor"] = round(row["wall_ms"] / floor["wall_ms"], 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
