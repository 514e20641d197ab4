"""Log sources in a real engine: per-label metrics from a real file, parse errors counted and
shown with a sample, error-pattern events bounded, offsets that survive a restart, rotation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.watchkit import events, health, last, query, running, wait_for, write_config

SOURCE = "log:access"


def log_source(**overrides: str) -> str:
    keys = {"name": "access", "log": "access.json", "format": "json_access", "from": "start", "interval": "100ms",
            "poll": "20ms", "window": "5s", **overrides}
    return "  - {" + ", ".join(f"{k}: {v}" for k, v in keys.items()) + "}\n"


def access_lines(rows: list[tuple[str, int, float]]) -> bytes:
    return b"".join(
        json.dumps({"upstream": upstream, "status": status, "request_time": seconds, "path": "/"}).encode() + b"\n"
        for upstream, status, seconds in rows
    )


def test_per_label_rates_error_rate_and_latency_percentiles(tmp_path: Path) -> None:
    rows = [("baseline", 200, (i + 1) / 1000) for i in range(100)]  # 1..100 ms
    rows += [("canary", 500 if i % 4 == 0 else 200, 0.5) for i in range(20)]  # 5 of 20 fail
    rows += [("canary", 404, 0.5)] * 5
    (tmp_path / "access.json").write_bytes(access_lines(rows))
    with running(write_config(tmp_path, log_source())) as engine:
        wait_for(lambda: last(engine, SOURCE, "lines_total") == 125, what="every line counted")
        wait_for(lambda: last(engine, f"{SOURCE}:canary", "error_rate") is not None, what="the canary's error rate")
        baseline = {m: last(engine, f"{SOURCE}:baseline", m) for m in
                    ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "error_rate", "requests_per_s")}
        canary_rate = last(engine, f"{SOURCE}:canary", "error_rate")
        canary_4xx = last(engine, f"{SOURCE}:canary", "status_4xx_per_s")
        canary_5xx = last(engine, f"{SOURCE}:canary", "status_5xx_per_s")
        canary_rps = last(engine, f"{SOURCE}:canary", "requests_per_s")
        assert last(engine, SOURCE, "parse_errors_total") == 0
    assert (baseline["latency_p50_ms"], baseline["latency_p95_ms"], baseline["latency_p99_ms"]) == (50.0, 95.0, 99.0)
    assert baseline["error_rate"] == 0.0 and baseline["requests_per_s"] > 0
    assert canary_rate == 5 / 25, "5xx over all canary requests in the window (4xx are not errors)"
    # Each rate is its count over the same elapsed time: 5/t and (25/t)/5 may differ in the last bit.
    assert canary_4xx == canary_5xx == pytest.approx(canary_rps / 5, rel=1e-9)


def test_lines_that_do_not_parse_are_counted_and_shown_with_a_sample(tmp_path: Path) -> None:
    good = access_lines([("baseline", 200, 0.01)] * 3)
    (tmp_path / "access.json").write_bytes(good + b"not json at all\n" + b'["a", "list"]\n' + b'{"upstream": "x"}\n')
    db = tmp_path / "history.db"
    with running(write_config(tmp_path, log_source())) as engine:
        wait_for(lambda: last(engine, SOURCE, "parse_errors_total") == 3, what="3 parse errors")
        assert last(engine, SOURCE, "lines_total") == 6
        groups = wait_for(lambda: [g for g in engine.snapshot().errors if g.source == SOURCE], what="Errors entries")
    messages = {g.message for g in groups}
    assert messages == {
        "line does not parse as json_access: not JSON: Expecting value",
        "line does not parse as json_access: not a JSON object but list",
        "line does not parse as json_access: no 'status' field",
    }
    sample = next(g for g in groups if "Expecting value" in g.message)
    assert "sample=not json at all" in sample.context
    assert all(sev == "warning" for sev, _, _ in events(db, SOURCE) if "parse" in _)


def test_error_pattern_lines_become_events_within_the_limit(tmp_path: Path) -> None:
    rows = [("canary", 503, 0.2)] * 40 + [("canary", 200, 0.2)] * 10
    (tmp_path / "access.json").write_bytes(access_lines(rows))
    db = tmp_path / "history.db"
    config = log_source(error_pattern=r"""'"status": 5\d\d'""", error_events="{max: 5, per: 1m}")
    with running(write_config(tmp_path, config)) as engine:
        wait_for(lambda: last(engine, SOURCE, "lines_total") == 50, what="all lines")
        wait_for(lambda: any("more lines matching" in m for _, m, _ in events(db, SOURCE)), what="the summary")
        assert last(engine, SOURCE, "errors_per_s") is not None
    matched = [(sev, m, data) for sev, m, data in events(db, SOURCE) if '"status": 503' in m]
    assert len(matched) == 5, "a storm of 40 matching lines is 5 events"
    summary = [m for _, m, _ in events(db, SOURCE) if "more lines matching" in m]
    assert summary == ["35 more lines matching error_pattern not shown (at most 5 events per 60s)"]
    assert json.loads(matched[0][2])["line"].startswith('{"upstream": "canary", "status": 503')


def test_offset_survives_a_restart_nothing_read_twice_or_skipped(tmp_path: Path) -> None:
    log = tmp_path / "access.json"
    log.write_bytes(access_lines([("baseline", 200, 0.01)] * 10))
    db = tmp_path / "history.db"
    loaded = write_config(tmp_path, log_source())
    with running(loaded) as engine:
        wait_for(lambda: last(engine, SOURCE, "lines_total") == 10, what="10 lines")
    assert query(db, "SELECT offset FROM log_offsets WHERE source = ?", (SOURCE,)) == [(log.stat().st_size,)]
    with open(log, "ab") as handle:  # written while stopped
        handle.write(access_lines([("canary", 200, 0.01)] * 4))
    with running(loaded) as engine:
        wait_for(lambda: last(engine, SOURCE, "lines_total") == 4, what="only the 4 new lines")
        wait_for(lambda: last(engine, f"{SOURCE}:canary", "requests_per_s"), what="canary metrics")
        assert engine.snapshot().get(f"{SOURCE}:baseline", "requests_per_s") is None, "old lines not re-read"


def test_rotation_while_running_loses_and_repeats_nothing(tmp_path: Path) -> None:
    log = tmp_path / "access.json"
    log.write_bytes(b"")
    db = tmp_path / "history.db"
    with running(write_config(tmp_path, log_source())) as engine:
        with open(log, "ab") as handle:
            handle.write(access_lines([("baseline", 200, 0.01)] * 5))
        wait_for(lambda: last(engine, SOURCE, "lines_total") == 5, what="5 lines")
        os.rename(log, tmp_path / "access.json.1")  # rename rotation
        log.write_bytes(access_lines([("baseline", 200, 0.01)] * 3))
        wait_for(lambda: last(engine, SOURCE, "lines_total") == 8, what="3 more lines from the new file")
        with open(log, "r+b") as handle:  # copytruncate
            handle.truncate(0)
        with open(log, "ab") as handle:
            handle.write(access_lines([("baseline", 200, 0.01)] * 2))
        wait_for(lambda: last(engine, SOURCE, "lines_total") == 10, what="2 more lines after the truncation")
    notes = [m for _, m, _ in events(db, SOURCE)]
    assert any("rotated (renamed)" in m for m in notes) and any("copytruncate" in m for m in notes)


def test_missing_log_waits_and_starts_reading_when_it_appears(tmp_path: Path) -> None:
    with running(write_config(tmp_path, log_source(**{"from": "end"}))) as engine:
        view = wait_for(lambda: health(engine, SOURCE) if health(engine, SOURCE).status == "WARN" else None,
                        what="waiting")
        assert view.detail == f"waiting for {tmp_path / 'access.json'}: does not exist"
        (tmp_path / "access.json").write_bytes(access_lines([("canary", 200, 0.01)] * 2))
        wait_for(lambda: last(engine, SOURCE, "lines_total") == 2, what="the lines of the new file")
        assert health(engine, SOURCE).status == "OK"


def test_nginx_combined_lines_with_request_time(tmp_path: Path) -> None:
    (tmp_path / "access.log").write_text(
        '203.0.113.7 - - [10/Oct/2025:13:55:36 +0000] "GET /a HTTP/1.1" 200 512 "-" "curl/8.0" 0.120\n'
        '203.0.113.7 - alice [10/Oct/2025:13:55:37 +0000] "POST /b HTTP/1.1" 502 0 "-" "curl/8.0" 1.500\n'
        '203.0.113.7 - - [10/Oct/2025:13:55:38 +0000] "GET /c HTTP/1.1" 404 0 "https://x/" "Mozilla/5.0"\n'
        "garbage\n"
    )
    config = log_source(log="access.log", format="nginx_combined")
    with running(write_config(tmp_path, config)) as engine:
        wait_for(lambda: last(engine, SOURCE, "lines_total") == 4, what="4 lines")
        wait_for(lambda: last(engine, f"{SOURCE}:all", "error_rate") is not None, what="metrics")
        assert last(engine, SOURCE, "parse_errors_total") == 1
        assert last(engine, f"{SOURCE}:all", "error_rate") == 1 / 3
        assert last(engine, f"{SOURCE}:all", "latency_p99_ms") == 1500.0


def test_label_names_name_the_series_and_retried_requests_keep_both(tmp_path) -> None:  # noqa: ANN001
    """Issue 16: nginx logs $upstream_addr; `names:` turns addresses into stable/canary, and a
    request nginx retried from the canary to the stable is named part by part."""
    from engine.config.loader import ConfigError, load_config
    from engine.watch import parsers

    path = tmp_path / "config.yaml"
    path.write_text("watch:\n  - {name: edge, log: access.json, format: json_access,\n"
                    "     names: {'127.0.0.1:8481': stable, '127.0.0.1:8482': canary}}\n")
    source = load_config(path).config.watch[0]
    parse = parsers.build(source.parser_spec())
    assert parse(b'{"upstream": "127.0.0.1:8482", "status": 200, "request_time": 0.01}')[0] == "canary"
    assert parse(b'{"upstream": "127.0.0.1:8482, 127.0.0.1:8481", "status": 200}')[0] == "canary, stable"
    assert parse(b'{"upstream": "10.0.0.9:80", "status": 200}')[0] == "10.0.0.9:80"  # unnamed: as logged
    path.write_text("watch:\n  - {name: edge, log: access.json, format: json_access, names: {'a:1': 'ca/nary'}}\n")
    try:
        load_config(path)
    except ConfigError as exc:
        assert "watch[0].names.a:1: a label name is letters, digits" in str(exc), str(exc)
    else:
        raise AssertionError("a name with '/' was accepted")
