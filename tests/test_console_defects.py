"""Console defects of issue 17 (item 5), each driven through the real app and checked as a person
sees it: the screen's text (Pilot, or a real pseudo-terminal), the notices, the files written.
A real engine behind the app wherever the defect involves one."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import stat
import time
from pathlib import Path

import pytest

from console.app import OpsConsoleApp
from console.panels import errors, gaps, health
from console.screens.confirm import ConfirmScreen
from console.screens.help import HelpScreen
from engine.commands import Command
from engine.config.loader import load_config
from tests.canaryfixtures import CANARY, Feeder, http_actuator, running, status, wait_until, write_config
from tests.httpfixtures import HttpFixture, Reply
from tests.ptyrun import ANSI, PtyProcess, opsconsole_argv
from tests.test_canary_console import panel_text, settle


def screen_text(app: OpsConsoleApp) -> str:
    """Every cell of the screen as text, row by row: what the terminal shows."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


@pytest.fixture
def server(actuator: HttpFixture) -> HttpFixture:
    """tests/conftest.py's actuator: set-weight, rollback and promote answered 200, calls recorded."""
    actuator.route("/metrics", Reply(200, "# TYPE up gauge\nup 1\n"))
    return actuator


# -- `e`: the disable-target confirmation shows its question and keys, at 80x24 --------------------

async def test_disable_target_dialog_shows_question_and_keys_at_80x24(tmp_path: Path, server: HttpFixture) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("store: {path: history.db, flush_interval: 50ms}\nmonitor: {host: {enabled: false}}\n"
                    "collect:\n  tracks:\n    - {name: fast, interval: 200ms, timeout: 1s,\n"
                    f"       targets: [{{name: api, url: '{server.url('/metrics')}', format: prometheus}}]}}\n")
    with running(load_config(path)) as engine:
        wait_until(lambda: any(t.name == "api" for t in engine.snapshot().targets), what="the api target")
        app = OpsConsoleApp(engine, refresh=60.0)
        async with app.run_test(size=(80, 24)) as pilot:
            app.refresh_now()
            app.screen.query_one("#gaps").focus()
            await pilot.press("e")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.pause(0.2)  # the modal's first paint
            text = screen_text(app)
            assert "─ Confirm ─" in text, text
            assert "disable target 'api'? Collection stops and its series show a gap" in text, text
            assert "until enabled." in text, text
            assert "y: yes    n / q / escape: no" in text
            box = app.screen.query_one("Vertical").region
            assert box.width >= 40 and box.height >= 4 and box.right <= 80 and box.bottom <= 24
            await pilot.press("y")
            await app.workers.wait_for_complete()
        wait_until(lambda: {t.name: t.state for t in engine.snapshot().targets}.get("api") == "DISABLED",
                   what="api disabled")


# -- ctrl+z, then fg: the screen comes back whole without a key press ---------------------------------

def test_ctrl_z_then_fg_repaints_borders_and_footer_without_a_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("store: {path: history.db}\nmonitor: {host: {interval: 1s}}\nlogging: {file: opsconsole.log}\n")
    proc = PtyProcess(opsconsole_argv("--config", str(config)), cols=80, rows=24,
                      env=dict(os.environ, TERM="xterm-256color"))
    try:
        proc.wait_for_text("Rollout", timeout=20)
        proc.read_for(1.0)  # the first paint is done
        proc.send(b"\x1a")  # ctrl+z: the app leaves the screen and stops itself (SIGTSTP)
        proc.read_for(1.0)
        mark = len(proc.output)
        proc.signal(signal.SIGCONT)  # what `fg` sends; no key is pressed from here on
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            proc.read_for(0.2)
            after = ANSI.sub(b"", bytes(proc.output[mark:])).decode("utf-8", "replace")
            if all(title in after for title in ("Throughput", "Errors", "Gaps", "Health", "Rollout")) and "quit" in after:
                break
        after = ANSI.sub(b"", bytes(proc.output[mark:])).decode("utf-8", "replace")
        for title in ("Throughput", "Memory", "Errors", "Gaps", "Health", "Rollout"):
            assert title in after, f"{title} panel not repainted after fg:\n{after[-2000:]}"
        # the expanded panel's border, heavy while focused (at 80x24 the others are summary lines)
        assert sum(map(after.count, "╭┏")) >= 1 and sum(map(after.count, "╰┗")) >= 1
        assert "quit" in after and "help" in after  # the footer
        assert proc.poll() is None
    finally:
        proc.kill()


# -- rollout counters never read "12/3"; time in stage stops when the rollout ends -------------------

FROZEN = ("  interval: 50ms\n  window: 200ms\n  stages: [{weight: 5, hold: 1h}, {weight: 100}]\n"
          f"  rules: [{{series: '{CANARY}', max: 0.01, consecutive: 3, total: 5}}]\n")


async def test_counters_past_their_limit_stop_there_and_say_the_rest(tmp_path: Path, server: HttpFixture) -> None:
    feeder = Feeder()
    feeder.set(CANARY, 0.5)  # failing; frozen, so it keeps counting without rolling back
    with running(write_config(tmp_path, http_actuator(server.url("")), FROZEN), feeder) as engine:
        engine.submit(Command("rollout.start")).result(10)
        engine.submit(Command("rollout.freeze")).result(10)
        wait_until(lambda: engine.snapshot().rollout.rules[0].consecutive > 6, what="counted past both limits")
        app = OpsConsoleApp(engine, refresh=60.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot, lambda: "FROZEN" in panel_text(app))
            body = panel_text(app)
            rows = screen_text(app).splitlines()
            assert any(re.search(r"3/3 consecutive \(\d+ in a row\)", row) for row in rows), "\n".join(rows)
            assert any(re.search(r"5/5 total \(\d+ in all\)", row) for row in rows), body
            assert not re.search(r"error_rate.*\b([4-9]|\d\d+)/3 consecutive", body), body
        assert status(engine) == "frozen" and not server.hits("/canary/rollback")


async def test_time_in_stage_stops_at_the_rollback(tmp_path: Path, server: HttpFixture) -> None:
    with running(write_config(tmp_path, http_actuator(server.url("")), FROZEN)) as engine:
        engine.submit(Command("rollout.start")).result(10)
        assert engine.submit(Command("rollout.rollback")).result(10).ok
        app = OpsConsoleApp(engine, refresh=60.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot, lambda: "ROLLED-BACK" in panel_text(app))
            spent = re.search(r"rolled back \d+s ago after (\d+s) in stage", panel_text(app))
            assert spent, panel_text(app)
            later = dataclasses.replace(engine.snapshot(), taken_at=time.time() + 3 * 3600)
            app.apply_snapshot(later)  # three hours on: the rollout's time in stage has not moved
            await pilot.pause()
            assert f"rolled back 3h ago after {spent.group(1)} in stage" in panel_text(app)


# -- `?` lists every panel key, Enter on Health too ---------------------------------------------------

async def test_help_lists_every_panel_key_including_enter_on_health(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("store: {path: history.db}\nmonitor: {host: {enabled: false}}\n")
    with running(load_config(path)) as engine:
        app = OpsConsoleApp(engine, refresh=60.0)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("question_mark")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            text = str(app.screen.query_one("#help-text").render())
            assert re.search(r"enter +Health: expand or fold the selected check's components", text), text
            assert re.search(r"enter +Errors: open the selected error", text), text
            for panel in (errors.ErrorsPanel, gaps.GapsPanel, health.HealthPanel):
                for binding in panel.BINDINGS:
                    for key in binding.key.split(","):
                        assert re.search(rf"(^|\s|/ |, ){key}(\s|,|$)", text, re.M), f"{panel.__name__}: {key} not in help"
                    if binding.key == "enter":
                        assert re.search(rf"enter +{panel.TITLE}:", text), f"{panel.TITLE}'s enter not in help"


# -- the palette's Screenshot writes a private SVG and says where -------------------------------------

async def test_palette_screenshot_writes_a_private_svg_and_says_where(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    os.umask(0o022)
    path = tmp_path / "config.yaml"
    path.write_text(f"store: {{path: {tmp_path / 'history.db'}}}\nmonitor: {{host: {{enabled: false}}}}\n")
    with running(load_config(path)) as engine:
        app = OpsConsoleApp(engine, refresh=60.0)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("ctrl+p")
            await pilot.pause()
            await pilot.press(*"Screenshot")
            await pilot.pause(0.3)
            await pilot.press("enter")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any("screenshot" in t for _, _, t in app.notices):
                await pilot.pause(0.1)
            (notice,) = [t for _, _, t in app.notices if "screenshot" in t]
    match = re.fullmatch(r"screenshot: screenshot saved to (\S+\.svg) \(readable only by you\)", notice)
    assert match, notice
    saved = Path(match.group(1))
    assert saved.parent == state / "opsconsole" / "screenshots"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600 and stat.S_IMODE(saved.parent.stat().st_mode) == 0o700
    svg = saved.read_text()
    assert svg.startswith("<svg") and "Rollout" in svg


# -- read-only: refusals in words, and the footer without the keys that are disabled -----------------

async def test_read_only_says_it_in_words_and_hides_disabled_keys(tmp_path: Path, server: HttpFixture) -> None:
    with running(write_config(tmp_path, http_actuator(server.url(""))), read_only=True) as engine:
        app = OpsConsoleApp(engine, refresh=60.0, read_only=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot, lambda: "IDLE" in panel_text(app))
            footer = screen_text(app).splitlines()[-1]
            assert "quit" in footer and "help" in footer and "theme" in footer
            for disabled in ("pause/resume", "promote", "roll back", "silence", "backup"):
                assert disabled not in footer, f"{disabled!r} still on the read-only footer: {footer}"
            await pilot.press("R", "p", "b")
            await pilot.pause()
            notices = [text for _, _, text in app.notices]
            assert "read-only: rolling back is disabled (started with --read-only)" in notices
            assert "read-only: pausing or resuming the engine is disabled (started with --read-only)" in notices
            assert "read-only: backing up the history is disabled (started with --read-only)" in notices
            assert not any("rollout_rollback" in n or "_" in n.split(":")[0] for n in notices)
    assert not server.requests


async def test_a_writable_console_keeps_its_keys_on_the_footer(tmp_path: Path, server: HttpFixture) -> None:
    with running(write_config(tmp_path, http_actuator(server.url("")))) as engine:
        app = OpsConsoleApp(engine, refresh=60.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(app, pilot, lambda: "IDLE" in panel_text(app))
            footer = screen_text(app).splitlines()[-1]
            assert "pause/resume" in footer and "roll back" in footer and "backup now" in footer
