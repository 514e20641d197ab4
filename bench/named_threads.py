"""Run a module with every Python thread's name given to its OS thread (bench only).

    python bench/named_threads.py -m console --config config.yaml

CPython 3.11 leaves every thread's /proc/PID/task/TID/comm as "python", so a per-thread CPU split
read from /proc cannot say which thread is the UI, the engine loop or the demo. This wrapper sets
the kernel's name (prctl PR_SET_NAME, 15 bytes) from `Thread.name` when each thread starts, then
runs the module as `python -m` would. It changes nothing else; bench/tui_cost.py uses it.

With $BENCH_THREAD_LOG set, each thread that ends appends `monotonic-time cpu-seconds name` to that
file, so the CPU of short-lived threads (a connection's server thread) is still counted by name.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import runpy
import sys
import threading
import time

PR_SET_NAME = 15
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def set_os_name(name: str) -> None:
    _libc.prctl(PR_SET_NAME, name.encode("utf-8", "replace")[:15], 0, 0, 0)


_bootstrap_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]


_LOG = os.environ.get("BENCH_THREAD_LOG")


def _named_bootstrap(self: threading.Thread) -> None:
    set_os_name(self.name)
    try:
        _bootstrap_inner(self)
    finally:
        if _LOG:
            with open(_LOG, "a") as log:  # one short write per line: appends do not interleave
                log.write(f"{time.monotonic():.3f} {time.thread_time():.4f} {self.name}\n")


threading.Thread._bootstrap_inner = _named_bootstrap  # type: ignore[attr-defined]


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] != "-m":
        raise SystemExit("usage: named_threads.py -m MODULE [ARGS...]")
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    set_os_name("MainThread")
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
