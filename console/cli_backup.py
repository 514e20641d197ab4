"""`opsconsole backup` and `opsconsole restore`: the history's backups from a shell or a cron job.

    opsconsole backup  [--to DIR] [--config PATH] [--profile NAME]
    opsconsole restore BACKUP [--to PATH] [--force] [--config PATH] [--profile NAME]

Both work without a terminal (progress goes to stderr only when it is one; the result line goes
to stdout) and while a console or headless engine runs on the same history: the backup reads it
through its own connection (engine/backup/online.py). BACKUP is a backup file, its .json
manifest, or a directory (its newest verified backup). `restore --to` defaults to store.path.

Exit codes:
  0  done (the line on stdout says what was written or restored)
  1  it could not be done: no history to back up, disk full, a directory missing or read-only,
     another backup running into the same directory, a damaged backup, the target in use
  2  bad config or usage, nothing touched: a bad config file, BACKUP not found or not a backup,
     the target exists and --force was not given

Every run is recorded in a history, as an event and an audit row (origin "cli"): a backup in the
history it backed up, a restore in the history it restored (a refused or failed restore in the
target, when that is an existing history). Textual is never imported here.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2
COMMANDS = ("backup", "restore")
EXIT_CODES_TEXT = (
    "Exit codes: 0 done; 1 could not be done (no history, disk full, directory missing or read-only, "
    "backup running, damaged backup, target in use); 2 bad config or usage (nothing touched)."
)


def add_parsers(sub: Any, add_config_args: Callable[[argparse.ArgumentParser], None]) -> None:
    backup = sub.add_parser(
        "backup", help="back up the history now (online: the console may keep running)", epilog=EXIT_CODES_TEXT
    )
    backup.add_argument("--to", metavar="DIR", help="an existing directory (default: backup.dir from the config)")
    add_config_args(backup)
    restore = sub.add_parser(
        "restore", help="verify a backup and restore it to a new or (with --force) an unused file",
        epilog=EXIT_CODES_TEXT,
    )
    restore.add_argument("backup", metavar="BACKUP", help="a backup file, its .json manifest, or a backup directory")
    restore.add_argument("--to", metavar="PATH", help="where to restore (default: store.path from the config)")
    restore.add_argument("--force", action="store_true", help="replace an existing file (never one in use)")
    add_config_args(restore)


def main(args: argparse.Namespace, load: Callable[[str | None, str | None], Any]) -> int:
    loaded = load(args.config, args.profile)
    if loaded is None:
        return EXIT_CONFIG
    if args.command == "backup":
        return backup_command(args, loaded.config)
    return restore_command(args, loaded.config)


def backup_command(args: argparse.Namespace, config: Any) -> int:
    from engine.backup.errors import BackupError
    from engine.backup.job import run_backup

    db = Path(config.store.path)
    to = Path(args.to).expanduser().absolute() if args.to else None
    call = {"to": str(to) if to else str(config.backup.dir)}
    progress = _Progress()
    try:
        result = run_backup(db, config.backup, to_dir=to, progress=progress.phase if progress.enabled else None)
    except BackupError as exc:
        progress.end()
        message = f"backup failed: {exc}"
        print(f"opsconsole: {message}", file=sys.stderr)
        _record(db, config.store, "backup", call, message, False, {"error": str(exc)})
        return EXIT_RUNTIME
    progress.end()
    print(result.message())
    data = {"path": str(result.path), "bytes": result.manifest.bytes, "saved": round(result.manifest.saved, 4),
            "deleted": [str(p) for p in result.deleted]}
    _record(db, config.store, "backup", call, result.message(), True, data)
    return EXIT_OK


def restore_command(args: argparse.Namespace, config: Any) -> int:
    from engine.backup.errors import BackupError, RestoreRefused
    from engine.backup.restore import restore

    target = Path(args.to).expanduser().absolute() if args.to else Path(config.store.path)
    call = {"backup": str(args.backup), "to": str(target), "force": bool(args.force)}
    progress = _Progress()
    try:
        result = restore(Path(args.backup), target, force=args.force,
                         progress=(lambda f: progress.phase("verifying", f)) if progress.enabled else None)
    except RestoreRefused as exc:
        progress.end()
        print(f"opsconsole: restore refused: {exc}", file=sys.stderr)
        _record(target, config.store, "restore", call, f"restore refused: {exc}", False, {})
        return EXIT_CONFIG
    except BackupError as exc:
        progress.end()
        print(f"opsconsole: restore failed: {exc}", file=sys.stderr)
        _record(target, config.store, "restore", call, f"restore failed: {exc}", False, {})
        return EXIT_RUNTIME
    progress.end()
    print(result.message())
    data = {"backup": str(result.backup), "tables": result.found.tables,
            "time_range": list(result.found.time_range) if result.found.time_range else None}
    _record(target, config.store, "restore", call, result.message(), True, data)
    return EXIT_OK


def _record(db: Path, store_config: Any, action: str, call: dict[str, Any], message: str, ok: bool,
            data: dict[str, Any]) -> None:
    """The event and audit row, written into `db` through the Store (a second writer next to a
    running engine is fine: SQLite serialises the two). Only into a current opsconsole history:
    we never create, or migrate, a file just to note that something was refused."""
    from engine import eventcodes as ev
    from engine.commands import Actor
    from engine.store import Store, StoreError

    if not _is_current_history(db):
        print(f"opsconsole: (not recorded: {db} is not a current opsconsole history)", file=sys.stderr)
        return
    try:
        store = Store.open(db, store_config)
    except StoreError as exc:
        print(f"opsconsole: (not recorded in the history: {exc})", file=sys.stderr)
        return
    now = time.time()
    code = ev.BACKUP_DONE if ok else ev.BACKUP_FAILED
    store.add_event(now, code, "info" if ok else "critical", "cli", message, {**call, **data})
    store.add_audit(now, Actor.current("cli"), action, call, message, ok)
    store.close()
    if store.stats.last_error:
        print(f"opsconsole: (not recorded in the history: {store.stats.last_error})", file=sys.stderr)


def _is_current_history(path: Path) -> bool:
    import sqlite3

    from engine.store import StoreError, schema

    if not path.is_file():
        return False
    try:
        conn = schema.connect(path, read_only=True)
    except sqlite3.Error:
        return False
    try:
        return schema.read_version(conn, path) == schema.latest_version()
    except (StoreError, sqlite3.Error):
        return False
    finally:
        conn.close()


# -- progress on stderr, only for a person watching -------------------------------------------------


class _Progress:
    """One self-overwriting line on stderr while a terminal watches; nothing otherwise."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.shown = False

    def phase(self, phase: str, fraction: float | None) -> None:
        self.shown = True
        text = f"{phase} {fraction:.0%}" if fraction is not None else f"{phase}…"
        print(f"\r\x1b[K{text}", end="", file=sys.stderr, flush=True)

    def end(self) -> None:
        if self.shown:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)
            self.shown = False
