"""A new history is created from engine/store/fresh.py's statements, not by running every migration:
the same file the migrations would build, without loading sqlite-utils (5.8 MB of resident memory)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from engine.config.schema import StoreConfig
from engine.store import Store, fresh, freshgen, schema

REGENERATE = "python -m engine.store.freshgen"


def shape(path: Path) -> dict[str, object]:
    """What a reader of the file depends on: every table, index and view as written, each table's
    columns, auto_vacuum (retention's incremental vacuum needs it), and the meta rows' keys."""
    with sqlite3.connect(path) as conn:
        master = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
        tables = [row[1] for row in master if row[0] == "table"]
        return {
            "master": master,
            "columns": {t: conn.execute(f'PRAGMA table_info("{t}")').fetchall() for t in tables},
            "auto_vacuum": conn.execute("PRAGMA auto_vacuum").fetchone(),
            "meta": sorted(row[0] for row in conn.execute("SELECT key FROM meta")),
            "version": conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone(),
        }


def test_the_statements_are_what_the_migrations_build() -> None:
    version, statements = freshgen.built_by_migrations()
    assert (fresh.VERSION, fresh.STATEMENTS) == (version, statements), f"stale: run {REGENERATE}"
    assert version == schema.latest_version()


def test_a_new_history_is_the_file_the_migrations_would_build(tmp_path: Path) -> None:
    created = tmp_path / "new.db"
    Store.open(created, StoreConfig(path=created)).close()
    migrated = tmp_path / "migrated.db"
    conn = schema.connect(migrated)
    schema.migrate_from_empty(conn, migrated)
    conn.close()
    assert shape(created) == shape(migrated)
    assert shape(created)["version"] == (str(schema.latest_version()),)
    assert shape(created)["meta"] == ["created_at", "created_by", "schema_version"]


def test_creating_a_history_does_not_load_sqlite_utils(tmp_path: Path) -> None:
    probe = (
        "import sys; from pathlib import Path; from engine.config.schema import StoreConfig; "
        "from engine.store import Store; p = Path(sys.argv[1]); Store.open(p, StoreConfig(path=p)).close(); "
        "print('sqlite_utils' in sys.modules)"
    )
    new = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "h.db")], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parent.parent)
    assert new.stdout.strip() == "False", new.stderr
