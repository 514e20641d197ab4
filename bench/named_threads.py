"""Run a module with every Python thread's name given to its OS thread (bench only).

    python bench/named_threads.py -m console --config config.yaml

CPython 3.11 leaves every thread's /proc/PID/task/TID/comm as "python", so a per-thread CPU split
read from /proc cannot say which thread is the UI, the engine loop or the demo. This wrapper sets
the kernel's name (prctl PR_SET_NAME, 15 bytes) from `Thread.name` when each thread starts, then
runs the module as `python -m` would. It changes nothing else; bench/tui_cost.py uses it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import runpy
import sys
import threading

PR_SET_NAME = 15
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def set_os_name(name: str) -> None:
    _libc.prctl(PR_SET_NAME, name.encode("utf-8", "replace")[:15], 0, 0, 0)


_bootstrap_inner = threading.Thread._bootstrap_inner  # type: ignore[attr-defined]


def _named_bootstrap(self: threading.Thread) -> None:
    set_os_name(self.name)
    _bootstrap_inner(self)


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
