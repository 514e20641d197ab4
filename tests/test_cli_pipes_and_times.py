"""Shell habits (issue 17): `--since -5m` is a time, not an unknown option, and output cut off by
`| head` ends quietly. A real history file and real `opsconsole` processes with real pipes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.history_gen import add_series, connect, create_history, generate_samples
from tests.ptyrun import opsconsole_argv


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    create_history(path)
    conn = connect(path)
    now = time.time()
    generate_samples(conn, add_series(conn, 20), now - 3600, now, 1.0)  # an hour, 72,000 samples
    conn.commit()
    conn.close()
    return path


def test_since_minus_five_minutes_is_the_last_five_minutes(history: Path) -> None:
    done = subprocess.run(opsconsole_argv("export", str(history), "--since", "-5m", "--format", "csv"),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()[1:]
    times = [float(row.split(",")[0]) for row in rows]
    assert times and max(times) - min(times) <= 300 and len(rows) < 72_000


def test_a_closed_pipe_ends_quietly(history: Path) -> None:
    """`opsconsole export FILE | head -1`: the reader goes away after one line."""
    export = subprocess.Popen(opsconsole_argv("export", str(history)), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert export.stdout is not None and export.stderr is not None
    assert export.stdout.readline().startswith("time,")
    export.stdout.close()  # what head does when it has its line
    code = export.wait(timeout=120)
    stderr = export.stderr.read()
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert code == 141  # as a shell reports a process ended by SIGPIPE
