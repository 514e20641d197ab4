"""The glibc malloc settings of long runs (engine/allocator.py), checked in a fresh interpreter:
applied when the environment says nothing, and the user's own variables win."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")

PROBE = "from engine.allocator import tune_for_long_runs; print(','.join(tune_for_long_runs()))"


def applied(env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_both_settings_apply_by_default() -> None:
    assert applied({}) == "MALLOC_MMAP_THRESHOLD=131072,MALLOC_ARENA_MAX=2"


def test_the_users_environment_wins() -> None:
    assert applied({"MALLOC_ARENA_MAX": "4"}) == "MALLOC_MMAP_THRESHOLD=131072"
