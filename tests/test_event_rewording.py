"""Review reads what the engine recorded, not its sentences (issue 19).

Two real recordings (a rollout rolled back by the engine with an alert firing, and the demo) are
copied twice: once with every event message rewritten, once rewritten back into a file of schema
version 5 (before event codes and recorded states) the way an older opsconsole wrote it. Review,
the timeline and what-if must show the same state from each; only the messages themselves differ.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from engine import eventcodes as ev
from engine.config.loader import load_config
from engine.history.opener import open_history
from engine.history.source import HistorySource
from engine.history.timeline import marks
from engine.history.whatif import what_if
from engine.store import legacy_events, schema
from tests.reviewfixtures import Recording, private_env, record_demo, shared_rollout

REPO = Path(__file__).resolve().parent.parent


def reword(message: str) -> str:
    """Every message changed beyond recognition: reversed, so no prefix, word or pattern survives."""
    return "¶" + message[::-1]


@pytest.fixture(scope="module")
def rollout(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    return shared_rollout(tmp_path_factory)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    tmp = tmp_path_factory.mktemp("demo-reword")
    with private_env(tmp):
        return record_demo(tmp / "run")


def reworded_copy(db: Path, target: Path) -> dict[str, str]:
    """A copy of the history with every event message reworded; returns reworded -> original."""
    with sqlite3.connect(db) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    with sqlite3.connect(target) as conn:
        originals = [m for (m,) in conn.execute("SELECT DISTINCT message FROM events")]
        conn.create_function("reword", 1, reword, deterministic=True)
        conn.execute("UPDATE events SET message = reword(message)")
        conn.execute("UPDATE rollouts SET reason = reword(reason)")
    return {reword(m): m for m in originals}


def schema_v5_copy(db: Path, target: Path) -> None:
    """The history as opsconsole wrote it before event codes: schema version 5, no code column,
    and none of the data that version 6 added (the messages carried it)."""
    conn = schema.connect(target)
    from sqlite_utils import Database

    sdb = Database(conn)
    for migration in schema.MIGRATIONS[:5]:
        migration(sdb)
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', '5')")
    conn.execute("ATTACH DATABASE ? AS new", (str(db),))
    for table in ("series", "samples", "samples_1m", "samples_1h", "rollouts", "audit", "watched_files",
                  "log_offsets"):
        conn.execute(f"INSERT INTO main.{table} SELECT * FROM new.{table}")
    conn.execute("INSERT INTO main.events (id, t, kind, severity, source, message, data)"
                 " SELECT id, t, kind, severity, source, message, data FROM new.events")
    added = {ev.CHECK_CHANGED.code: ("reason",), ev.TARGET_STATE.code: ("from", "to", "error"),
             **{code: ("cause",) for code in ev.ROLLOUT_TRANSITIONS}}
    for code, keys in added.items():
        paths = ", ".join(f"'$.{k}'" for k in keys)
        conn.execute(f"UPDATE main.events SET data = json_remove(data, {paths})"
                     " WHERE id IN (SELECT id FROM new.events WHERE code = ?)", (code,))
    conn.execute("UPDATE main.events SET data = NULL WHERE id IN (SELECT id FROM new.events WHERE code IN (?, ?))",
                 (ev.ENGINE_PAUSED.code, ev.ENGINE_RESUMED.code))
    conn.execute("DETACH DATABASE new")
    conn.close()


def restored(value: Any, originals: dict[str, str]) -> Any:
    """A reworded snapshot's strings put back: whole messages, and messages inside longer text."""
    if isinstance(value, str):
        if value in originals:
            return originals[value]
        for reworded, original in originals.items():
            if reworded and reworded in value:
                value = value.replace(reworded, original)
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return type(value)(**{f.name: restored(getattr(value, f.name), originals)
                              for f in dataclasses.fields(value) if f.init})
    if isinstance(value, tuple):
        return tuple(restored(v, originals) for v in value)
    if isinstance(value, list):
        return [restored(v, originals) for v in value]
    if isinstance(value, dict):
        return {k: restored(v, originals) for k, v in value.items()}
    return value


def moments(rec: Recording) -> list[float]:
    return [s.taken_at for s in rec.snapshots]


def compare_reviews(original: Path, other: Path, times: list[float], originals: dict[str, str]) -> int:
    a, b = HistorySource(open_history(original)), HistorySource(open_history(other))
    try:
        assert a.range == b.range
        for t in times:
            expected, got = a.seek(t), restored(b.seek(t), originals)
            for field in dataclasses.fields(expected):
                assert getattr(got, field.name) == getattr(expected, field.name), (t, field.name)
        assert [(m.t, m.what) for m in marks(b.db, b.range)] == [(m.t, m.what) for m in marks(a.db, a.range)]
        return len(times)
    finally:
        a.close()
        b.close()


def test_a_rollout_reviews_the_same_with_every_message_reworded(rollout: Recording, tmp_path: Path) -> None:
    copy = tmp_path / "reworded.db"
    originals = reworded_copy(rollout.db, copy)
    assert compare_reviews(rollout.db, copy, moments(rollout), originals) >= 20
    source = HistorySource(open_history(copy))
    try:  # the rollback is still there, found by its code
        last = source.seek(source.range.last)
        assert last.rollout is not None and last.rollout.status == "rolled-back"
        assert any(m.what == "rollback" for m in marks(source.db, source.range))
    finally:
        source.close()


def test_the_demo_reviews_the_same_with_every_message_reworded(demo: Recording, tmp_path: Path) -> None:
    copy = tmp_path / "reworded.db"
    originals = reworded_copy(demo.db, copy)
    assert compare_reviews(demo.db, copy, moments(demo), originals) >= 8


def test_what_if_decides_the_same_with_every_message_reworded(rollout: Recording, tmp_path: Path) -> None:
    copy = tmp_path / "reworded.db"
    originals = reworded_copy(rollout.db, copy)
    stricter = tmp_path / "stricter.yaml"
    stricter.write_text(rollout.config.read_text().replace("max: 0.01", "max: 0.003"))
    other = load_config(stricter).config
    reports = []
    for path in (rollout.db, copy):
        source = HistorySource(open_history(path))
        try:
            reports.append(what_if(source.db, source.runs, other, source.range.first, source.range.last))
        finally:
            source.close()
    plain, reworded = reports
    assert restored(reworded.lines(), originals) == plain.lines()
    decided = [(d.action, d.stage) for r in plain.rollouts for d in r.recorded]
    assert ("rollback", 2) in decided


def test_a_history_written_before_event_codes_opens_in_review_after_the_migration(
        rollout: Recording, demo: Recording, tmp_path: Path) -> None:
    for name, rec in (("rollout", rollout), ("demo", demo)):
        old = tmp_path / f"{name}-v5.db"
        schema_v5_copy(rec.db, old)
        before = old.read_bytes()
        opened = open_history(old)
        try:
            assert opened.how.startswith("written with schema version 5: read from a private copy upgraded to")
            codes = dict(opened.db._query("SELECT code, count(*) FROM events GROUP BY code"))
        finally:
            opened.close()
        assert old.read_bytes() == before, "review must not write to the file it reads"
        assert ev.LEGACY.code not in codes, codes  # every event of a real run is classified
        # Version 5 recorded no states: review rebuilds them from the events, as from this file
        # with its states removed, whose events were written with codes.
        rebuilt = tmp_path / f"{name}-no-states.db"
        with sqlite3.connect(rec.db) as source, sqlite3.connect(rebuilt) as copy:
            source.backup(copy)
        with sqlite3.connect(rebuilt) as conn:
            conn.execute("DELETE FROM states")
        assert compare_reviews(rebuilt, old, moments(rec), {}) >= 8


def test_every_code_is_emitted_by_the_engine_and_documented() -> None:
    source = "\n".join(p.read_text() for p in (REPO / "engine").rglob("*.py") if p.name != "eventcodes.py")
    names = {value.code: name for name, value in vars(ev).items() if isinstance(value, ev.EventCode)}
    unused = [code for code, name in names.items() if f"ev.{name}" not in source and code != ev.LEGACY.code]
    assert unused == [], f"codes nothing emits: {unused}"
    schema_md = (REPO / "docs" / "schema.md").read_text()
    assert ev.markdown() in schema_md, "docs/schema.md's table of codes is stale: python -m engine.eventcodes"


def test_the_migration_places_the_old_sentences() -> None:
    cases = [
        (("engine", "info", "engine", "engine started (config prod.yaml)", None),
         (ev.ENGINE_STARTED, {"config_name": "prod.yaml"})),
        (("action", "info", "engine", "engine paused by alice@10.0.0.1", None), (ev.ENGINE_PAUSED, None)),
        (("engine", "critical", "collect", "collect failed: boom — restarting in 2s", {"restarts": 1}),
         (ev.COMPONENT_CRASHED, {"restarts": 1, "error": "boom"})),
        (("health", "warning", "health:db", "db is WARN (was OK): slow answer", {"status": "WARN"}),
         (ev.CHECK_CHANGED, {"status": "WARN", "reason": "slow answer"})),
        (("collect", "warning", "collect:api", "api: OK -> RETRYING: connection refused", {"target": "api"}),
         (ev.TARGET_STATE, {"target": "api", "from": "OK", "to": "RETRYING", "error": "connection refused"})),
        (("rollout", "warning", "canary", "ROLLBACK FAILED after 3 attempts: 502", {"from": "rolling-back",
                                                                                   "to": "rolling-back"}),
         (ev.ROLLOUT_NOTED, {"from": "rolling-back", "to": "rolling-back", "cause": "rollback_failed"})),
        (("rollout", "warning", "canary", "paused at 5% (stage 1/3): the engine is stopping (console closed)",
          {"from": "running", "to": "paused"}),
         (ev.ROLLOUT_PAUSED, {"from": "running", "to": "paused", "cause": "engine_stopping"})),
        (("rollout", "info", "canary", "promoted to 25% (stage 2/3): hold passed", {"from": "running", "to": "running"}),
         (ev.ROLLOUT_STAGE_ENTERED, None)),
        (("watch", "info", "nginx", "something new", None), (ev.LEGACY, None)),
    ]
    for given, (code, data) in cases:
        assert legacy_events.classify(*given) == (code, data), given
