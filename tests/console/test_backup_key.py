"""The `b` key against a real engine: the backup runs, the Health panel's "backup" line tracks
it, and its result arrives as a toast (kept in app.notices); read-only refuses it with a reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.app import OpsConsoleApp
from engine.config.loader import load_config
from engine.runtime import Engine
from tests.backup_helpers import small_history


@pytest.fixture
def engine(tmp_path: Path):
    small_history(tmp_path / "history.db", series=3, days=0.2)
    (tmp_path / "config.yaml").write_text(
        "store: {path: history.db, flush_interval: 50ms}\n"
        "engine: {snapshot_interval: 50ms}\n"
        "backup: {dir: backups, every: 0s}\n"
    )
    engine = Engine(load_config(tmp_path / "config.yaml"))
    engine.start()
    yield engine
    engine.stop()


async def test_b_backs_up_and_toasts_the_result(engine: Engine, tmp_path: Path) -> None:
    app = OpsConsoleApp(engine, refresh=60.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await app.workers.wait_for_complete()
        await pilot.pause()
        (made,) = (tmp_path / "backups").glob("*.db.zst")
        toasts = [text for _, severity, text in app.notices if text.startswith("backup: ")]
        assert len(toasts) == 1 and f"backup {made.name}: " in toasts[0] and "verified: integrity ok" in toasts[0]
        health = app.screen.query_one("#health").body.plain
        assert any(line.split()[:2] == ["OK", "backup"] for line in health.splitlines()), health


async def test_b_is_refused_in_read_only_mode_with_the_reason(engine: Engine, tmp_path: Path) -> None:
    app = OpsConsoleApp(engine, refresh=60.0, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await pilot.pause()
        assert [text for _, _, text in app.notices][-1] == "read-only: backing up the history is disabled (started with --read-only)"
    assert not (tmp_path / "backups").exists()
