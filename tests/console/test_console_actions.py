"""Keys from the action registry: pause/resume, help, read-only refusal, palette, confirmation."""

from __future__ import annotations

import concurrent.futures
import dataclasses

import pytest
from console_fakes import snap

from console import actions
from console.actions import ACTIONS, ActionSpec, key_display, shown
from console.screens.confirm import ConfirmScreen
from console.screens.help import HelpScreen
from engine.snapshot import EngineState


def notices(app) -> list[str]:
    return [text for _, _, text in app.notices]


@pytest.mark.parametrize("threaded", [False, True], ids=["done-future", "engine-thread"])
async def test_p_pauses_then_resumes(make_app, source, threaded):
    executor = concurrent.futures.ThreadPoolExecutor(1) if threaded else None
    source.executor = executor
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [c.name for c in source.submitted] == ["pause"]
        assert source.submitted[0].actor.origin == "tui"
        assert "pause: engine paused" in notices(app)
        assert " · PAUSED · " in app.header.plain  # the next snapshot (pulled after the result)
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [c.name for c in source.submitted] == ["pause", "resume"]
        assert " · RUNNING · " in app.header.plain
    if executor:
        executor.shutdown()


async def test_header_follows_the_snapshot_not_the_keypress(make_app, source):
    app = make_app()
    async with app.run_test() as pilot:
        source.handlers["pause"] = lambda c: actions_result("queued")  # engine has not paused yet
        await pilot.press("p")
        await app.workers.wait_for_complete()
        assert "PAUSED" not in app.header.plain
        source.current = dataclasses.replace(source.current, state=EngineState.PAUSED)
        app.refresh_now()
        assert " · PAUSED · " in app.header.plain


def actions_result(message):
    from engine.commands import CommandResult

    return CommandResult(ok=True, message=message)


async def test_help_lists_every_registered_binding(make_app):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-text").render())
        for spec in shown(app):
            assert key_display(app, spec) in text, spec.key
            assert f"{spec.description} " in text, f"{spec.description!r} runs into its group"
        assert "disabled" not in text
        # Review-mode keys (console/review.py) are not bound, nor listed, in the live console.
        review_keys = [spec for spec in ACTIONS if spec.review]
        assert review_keys and not any(spec.description in text for spec in review_keys)
        await pilot.press("q")
        assert not isinstance(app.screen, HelpScreen)


async def test_bindings_come_from_the_registry(make_app):
    app = make_app()
    async with app.run_test():
        active = {ab.binding.id: key for key, ab in app.active_bindings.items()}
        for spec in shown(app):
            assert active.get(spec.id) == spec.key, spec.id
        assert not any(spec.id in active for spec in ACTIONS if spec.review)


@pytest.mark.parametrize("how", ["flag", "snapshot"])
async def test_read_only_refuses_pause_and_says_why(make_app, source, how):
    if how == "snapshot":
        source.current = snap(read_only=True)
    app = make_app(read_only=(how == "flag"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("p")
        await pilot.pause()
        assert source.submitted == []
        assert any(n.startswith("read-only: pausing or resuming the engine is disabled") for n in notices(app))
        assert "READ-ONLY" in app.header.plain
        await pilot.press("question_mark")
        await pilot.pause()
        text = str(app.screen.query_one("#help-text").render())
        assert "read-only: pausing or resuming the engine is disabled (started with --read-only)" in text


async def test_command_palette_runs_registry_actions(make_app, source):
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"pause/resume")
        await pilot.pause(0.1)  # the palette searches in a worker; give it a beat to list hits
        await app.workers.wait_for_complete()
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert [c.name for c in source.submitted] == ["pause"]


async def test_destructive_action_asks_first(make_app, source, monkeypatch):
    """Any destructive registry action goes through the one dialog: a reason, then `y`."""
    spec = ActionSpec("wipe", "W", "wipe cache", "engine", destructive=True, needs_write=True, command="cache.wipe")
    monkeypatch.setitem(actions.BY_ID, spec.id, spec)
    from console import app as app_module

    monkeypatch.setitem(app_module.BY_ID, spec.id, spec)
    app = make_app()
    async with app.run_test() as pilot:
        await app.run_action("op('wipe')")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen) and "send 'cache.wipe' to the engine?" in app.screen.question
        await pilot.press("enter")  # the (empty) reason: enter is not yes
        await pilot.press("n")
        await pilot.pause()
        assert source.submitted == []
        await app.run_action("op('wipe')")
        await pilot.pause()
        await pilot.press(*"stale", "enter", "y")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert [(c.name, c.args) for c in source.submitted] == [("cache.wipe", {"reason": "stale"})]


@pytest.mark.parametrize("where", ["other-thread", "ui-thread"])
async def test_request_exit_is_prompt_from_any_thread(make_app, where):
    """The CLI calls it from a signal handler (UI thread) or a watchdog thread."""
    import threading

    app = make_app()
    async with app.run_test() as pilot:
        if where == "ui-thread":
            app.request_exit("terminal hung up")
        else:
            thread = threading.Thread(target=app.request_exit, args=("terminal hung up",))
            thread.start()
            thread.join()
        await pilot.pause()
    assert app.return_code == 0
    assert app.exit_reason == "terminal hung up"


async def test_a_user_keymap_can_remap_a_registry_action(make_app, source):
    app = make_app()
    async with app.run_test() as pilot:
        app.set_keymap({"pause": "f5"})
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        assert [c.name for c in source.submitted] == ["pause"]
