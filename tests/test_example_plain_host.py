"""examples/plain-host/opsconsole.yaml as shipped, headless, on a real host: a real app process
(tests/nginxbackend.py) answering /health on 127.0.0.1, a real access log and inbox directory in
tmp_path. Checked the way its README says a user checks: the history's series_latest view and
health events (sqlite3 on history.db), and the engine's snapshot as `opsconsole attach` shows it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.examplekit import example_engine, latest
from tests.headlessfixtures import HeadlessProcess, db_rows, events, wait_until
from tests.nginxrig import backend

APP_CMDLINE = r"nginxbackend\.py --name app"  # the test's app, in place of the shipped gunicorn rule


def combined_line(status: int, seconds: float) -> str:
    """One line of nginx's combined format followed by $request_time, as the example's app writes."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
    return f'127.0.0.1 - - [{stamp}] "GET /orders HTTP/1.1" {status} 512 "-" "curl/8.0" {seconds:.3f}\n'


def health_status(engine: HeadlessProcess, name: str) -> str | None:
    view = next((h for h in engine.snapshot().health if h.name == name), None)
    return view.status if view else None


def test_plain_host_example_monitors_the_host_app_log_and_inbox(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with backend("app", seed=1, error_rate=0.0, latency_ms=1, log_dir=tmp_path) as app:
        overrides = {
            "HEALTH__0__URL": f"http://127.0.0.1:{app.port}/health",
            "HEALTH__0__INTERVAL": "1s",          # faster than the shipped 10s, so a failure shows in seconds
            "HEALTH__4__CMDLINE": APP_CMDLINE,
            "HEALTH__4__INTERVAL": "1s",
            "MONITOR__PROCESSES__1__CMDLINE": APP_CMDLINE,
            "MONITOR__PROCESS_INTERVAL": "1s",
            "MONITOR__HOST__INTERVAL": "1s",
            "WATCH__0__LOG": str(log),
            "WATCH__1__DIR": str(inbox),
        }
        with example_engine("plain-host", tmp_path, overrides) as engine:
            wait_until(lambda: any(h.name == "log:access" and h.value == "tailing" for h in engine.snapshot().health),
                       20, "the access log tailed")
            # 200 requests, 10 of them 5xx; the log source reads new lines (from: end).
            with log.open("a") as out:
                for i in range(200):
                    out.write(combined_line(500 if i % 20 == 0 else 200, 0.004 + (i % 7) / 1000))
            (inbox / "order-1.json").write_text(json.dumps({"id": 1}))
            (inbox / "order-2.json").write_text(json.dumps([{"id": 2}, {"id": 3}]))
            (inbox / "broken.json").write_text('{"id": ')
            (inbox / "notes.txt").write_text("not matched by the pattern")

            wait_until(lambda: latest(engine.db, "log:access", "lines_total") == 200, 20, "200 log lines counted")
            wait_until(lambda: latest(engine.db, "watch:inbox", "errors_total") == 1, 20, "broken.json failed")
            wait_until(lambda: latest(engine.db, "watch:inbox", "files_total") == 2, 20, "the 2 good inbox files")
            wait_until(lambda: health_status(engine, "app") == "OK", 20, "the app's /health OK")
            wait_until(lambda: latest(engine.db, "proc:app", "rss_bytes"), 20, "the app process followed")
            wait_until(lambda: latest(engine.db, "disk:/", "used_pct") is not None, 20, "root disk usage")

            db = engine.db
            assert latest(db, "watch:inbox", "records_total") == 3, "1 record in order-1.json, 2 in order-2.json"
            statuses = dict(r for r in _ledger(db))
            assert (statuses[str(inbox / "broken.json")], statuses[str(inbox / "order-1.json")]) == ("failed", "processed")
            assert str(inbox / "notes.txt") not in statuses
            assert latest(db, "log:access", "parse_errors_total") == 0
            requests = _sum(db, "log:access:all", "requests")
            errors = _sum(db, "log:access:all", "errors")
            assert (requests, errors) == (200, 10), "every line counted once, the 5xx as errors"
            assert 0 < latest(db, "host", "mem_pct") < 100
            assert latest(db, "proc:app", "running") == 1
            snap = engine.snapshot()
            assert {h.name: h.status for h in snap.health}["root-disk"] in ("OK", "WARN")
            assert {h.name: h.status for h in snap.health}["app-process"] == "OK"
            assert any('" 500 ' in group.message for group in snap.errors), \
                f"the 5xx lines matched error_pattern and are on the Errors panel: {snap.errors}"

            wait_until(lambda: events(db, "InboxErrors firing%"), 10, "the InboxErrors alert firing")
            # 10 of 200 requests answered 5xx (5% > 1%): pending, firing after its `for: 2m`.
            wait_until(lambda: events(db, "AccessLogErrors pending%"), 10, "the AccessLogErrors alert pending")

            # The app goes away: its health check and process check turn FAIL (3 failures in a row),
            # and the history says so.
            app.kill()
            wait_until(lambda: health_status(engine, "app") == "FAIL", 30, "the app's health FAIL after the kill")
            wait_until(lambda: health_status(engine, "app-process") == "FAIL", 30, "the app process check FAIL")
            assert engine.stop() == 0
    fails = events(db, "app is FAIL%")
    assert fails and "/health: connection refused" in fails[0], fails  # the URL and the cause, in words
    assert events(db, "app-process is FAIL%")
    assert latest(db, "proc:app", "running") == 0


def _ledger(db: Path) -> list[tuple[str, str]]:
    return db_rows(db, "SELECT path, status FROM watched_files")


def _sum(db: Path, source: str, metric: str) -> float:
    rows = db_rows(db, "SELECT SUM(s.value) FROM samples s JOIN series k ON k.id = s.series_id"
                       " WHERE k.source = ? AND k.metric = ?", (source, metric))
    return rows[0][0] or 0
