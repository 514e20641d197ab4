"""Running the configs in examples/ as they are shipped, for tests/test_example_*.py.

    with example_engine("plain-host", tmp_path, {"WATCH__0__LOG": str(log)}) as engine:
        ...                                           # a real `opsconsole --headless` on the file

What differs per machine (paths, ports) is given the way each example's README says: as
`OPSCONSOLE_<KEY>` environment overrides of the shipped file, never by editing a copy of it.
History, log and control socket go under the test's own XDG dirs (tests/conftest.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tests.conftest import REPO
from tests.headlessfixtures import HeadlessProcess, db_rows

EXAMPLES = REPO / "examples"


def example_config(name: str) -> Path:
    return EXAMPLES / name / "opsconsole.yaml"


def override_env(overrides: Mapping[str, str]) -> dict[str, str]:
    """This process's environment plus OPSCONSOLE_<key> for each override ("WATCH__0__LOG")."""
    return dict(os.environ, **{f"OPSCONSOLE_{key}": value for key, value in overrides.items()})


def example_engine(name: str, tmp_path: Path, overrides: Mapping[str, str]) -> HeadlessProcess:
    """The example's config as a headless process (enter it to wait until it answers). Its stderr
    goes to tmp_path, never into examples/."""
    env = override_env(overrides)
    return HeadlessProcess(example_config(name), env=env, stderr_dir=tmp_path)


def latest(db: Path, source: str, metric: str) -> float | None:
    """The newest value of a series, as `SELECT ... FROM series_latest` shows it to a user."""
    rows = db_rows(db, "SELECT value FROM series_latest WHERE source = ? AND metric = ?", (source, metric))
    return rows[0][0] if rows else None
