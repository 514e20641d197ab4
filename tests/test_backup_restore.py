"""Restore on real files: verified first, what it restored said plainly, and every refusal
leaves the target exactly as it was: an existing file without --force, a database another
process has open (a real child holding a Store or a Reader), a damaged, truncated or tampered
backup, a backup from a newer opsconsole."""

from __future__ import annotations

import hashlib
import json
import selectors
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from engine import eventcodes as ev
from engine.backup.config import BackupConfig
from engine.backup.errors import BackupError, RestoreRefused
from engine.backup.job import BackupResult, run_backup
from engine.backup.restore import database_in_use, restore
from engine.config.schema import StoreConfig
from engine.store import Store, open_reader
from tests.backup_helpers import REPO, query, small_history, table_counts


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return small_history(tmp_path / "live" / "history.db")


@pytest.fixture
def backup(source: Path, tmp_path: Path) -> BackupResult:
    return run_backup(source, BackupConfig(dir=tmp_path / "backups"))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


HOLDER = """
import sys
from pathlib import Path
from engine.config.schema import StoreConfig
from engine.store import Store, open_reader
path = Path(sys.argv[2])
held = Store.open(path, StoreConfig(path=path)) if sys.argv[1] == "store" else open_reader(path)
if sys.argv[1] == "reader":
    held.series_keys()  # a query, as review mode makes
print("OPEN", flush=True)
sys.stdin.read()  # until the test closes our stdin
held.close()
"""


@contextmanager
def held_open(path: Path, how: str) -> Iterator[None]:
    """Another process with the database open: the engine's Store, or a review's Reader."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, how, str(path)], cwd=REPO,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        with selectors.DefaultSelector() as waiting:
            waiting.register(child.stdout, selectors.EVENT_READ)
            assert waiting.select(15), "the holder did not open the database within 15s"
        assert child.stdout.readline().strip() == "OPEN", child.stderr.read() if child.stderr else ""
        yield
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(15)


def test_restore_to_a_new_path_says_what_it_restored(source: Path, backup: BackupResult, tmp_path: Path) -> None:
    target = tmp_path / "laptop" / "review" / "history.db"  # missing directories are created, private
    result = restore(backup.path, target)
    assert table_counts(target) == table_counts(source)
    assert query(target, "PRAGMA integrity_check") == [("ok",)]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    message = result.message()
    assert message.startswith(f"restored {backup.path.name} to {target} (created): history from 2023-11-14 22:13:20Z to ")
    assert "172,800 samples" in message and "500 events" in message and "matches its manifest" in message
    # No scratch file left; the engine's lock file (held during the restore) stays, as it always does.
    assert sorted(p.name for p in target.parent.iterdir()) == ["history.db", "history.db.lock"]
    with open_reader(target) as reader:  # and opsconsole reads it
        assert len(reader.series_keys()) == 20


def test_a_directory_means_its_newest_verified_backup(source: Path, tmp_path: Path) -> None:
    config = BackupConfig(dir=tmp_path / "backups", keep=5)
    run_backup(source, config)
    newest = run_backup(source, config)
    assert restore(config.dir, tmp_path / "r.db").backup == newest.path


def test_an_existing_file_is_refused_without_force_and_left_unchanged(backup: BackupResult, tmp_path: Path) -> None:
    target = tmp_path / "other.db"
    small_history(target, series=2, days=0.1)
    before = digest(target)
    with pytest.raises(RestoreRefused, match=r"other.db already exists: add --force to replace it"):
        restore(backup.path, target)
    assert digest(target) == before


@pytest.mark.parametrize("how", ["store", "reader"])
def test_a_database_in_use_is_refused_even_with_force(backup: BackupResult, tmp_path: Path, how: str) -> None:
    target = tmp_path / "in-use.db"
    small_history(target, series=2, days=0.1)
    with held_open(target, how):
        assert database_in_use(target)
        before = table_counts(target)
        with pytest.raises(BackupError, match=r"in-use.db is in use by another process .*: stop it first; nothing was changed"):
            restore(backup.path, target, force=True)
        assert table_counts(target) == before
    assert not database_in_use(target)  # the holder closed it: now it may be replaced
    assert list(tmp_path.glob("*.partial")) == []


def test_force_replaces_an_unused_history_that_was_in_wal_mode(source: Path, backup: BackupResult, tmp_path: Path) -> None:
    target = tmp_path / "old.db"
    store = Store.open(target, StoreConfig(path=target))
    store.add_event(1.0, ev.LEGACY, "info", "old", "from the file being replaced")
    store.close()
    result = restore(backup.path, target, force=True)
    assert result.replaced and "(replaced)" in result.message()
    assert table_counts(target) == table_counts(source)
    assert query(target, "SELECT count(*) FROM events WHERE source = 'old'") == [(0,)]
    store = Store.open(target, StoreConfig(path=target))  # the engine opens the restored file
    store.close()


def test_a_truncated_backup_is_refused_and_the_target_untouched(backup: BackupResult, tmp_path: Path) -> None:
    cut = tmp_path / "cut" / backup.path.name
    cut.parent.mkdir()
    cut.write_bytes(backup.path.read_bytes()[: backup.manifest.bytes - 100])  # no manifest beside it
    with pytest.raises(BackupError, match=r"is truncated: the compressed stream ends before its end marker"):
        restore(cut, tmp_path / "r.db")
    assert sorted(p.name for p in tmp_path.glob("r.db*")) == ["r.db.lock"]  # no database, no scratch


def test_a_changed_backup_does_not_match_its_manifest(backup: BackupResult, tmp_path: Path) -> None:
    data = bytearray(backup.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    backup.path.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=r"does not match the checksum in its manifest"):
        restore(backup.path, tmp_path / "r.db")
    manifest = backup.path.with_name(backup.path.name.replace(".db.zst", ".json"))
    manifest.unlink()  # without the manifest, zstd's own checksum catches the damage
    with pytest.raises(BackupError, match=r"is damaged"):
        restore(backup.path, tmp_path / "r.db")
    assert not (tmp_path / "r.db").exists()


def test_row_counts_that_disagree_with_the_manifest_are_refused(backup: BackupResult, tmp_path: Path) -> None:
    manifest_path = backup.path.with_name(backup.path.name.replace(".db.zst", ".json"))
    manifest = json.loads(manifest_path.read_text())
    manifest["tables"]["samples"] += 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match=r"does not match its manifest \(samples: 172,800 rows, manifest says 172,801\)"):
        restore(backup.path, tmp_path / "r.db")


def test_a_backup_from_a_newer_opsconsole_is_refused(source: Path, tmp_path: Path) -> None:
    with sqlite3.connect(source) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    result = run_backup(source, BackupConfig(dir=tmp_path / "b"))
    with pytest.raises(BackupError, match=r"has schema version 99, this opsconsole understands up to"):
        restore(result.path, tmp_path / "r.db")
    assert not (tmp_path / "r.db").exists()


def test_unusable_arguments_are_refused_with_sentences(backup: BackupResult, tmp_path: Path) -> None:
    with pytest.raises(RestoreRefused, match=r"backup .*nope.db.zst does not exist"):
        restore(tmp_path / "nope.db.zst", tmp_path / "r.db")
    with pytest.raises(RestoreRefused, match=r"is not a backup file"):
        restore(tmp_path / "live" / "history.db", tmp_path / "r.db")
    with pytest.raises(RestoreRefused, match=r"no verified backup in"):
        restore(tmp_path, tmp_path / "r.db")
    with pytest.raises(RestoreRefused, match=r"is a directory: give the database's file name"):
        restore(backup.path, tmp_path)
