"""engine/verbs.py is the one declaration of the rollout verbs: every row is a key (bound, in the help
screen, in the palette), a CLI subcommand or flag and an engine command, and a row added to or taken
from the table changes all of those surfaces with no other edit. A confirmed verb asks in the one
confirmation dialog whether it comes from its key or from the palette."""

from __future__ import annotations

import dataclasses

import pytest
from console_fakes import snap

from console import actions, cli_remote
from console import app as app_module
from console.actions import ActionSpec, bindings, key_display, shown, verb_actions
from console.app import OpsConsoleApp
from console.cli import build_parser
from console.screens.confirm import ConfirmScreen
from console.screens.help import HelpScreen
from engine.canary.statemachine import VERBS
from engine.snapshot import RolloutStatus, RolloutView
from engine.verbs import VERB_SPECS, Verb, VerbSpec

DRAIN = VerbSpec("drain", "D", "drain canary", "move the canary's connections off slowly", "drain",  # type: ignore[arg-type]
                 "draining the canary", confirm=True)
TABLES = {
    "the table": VERB_SPECS,
    "a row added, one removed": (*(s for s in VERB_SPECS if s.verb is not Verb.FREEZE), DRAIN),
}


@pytest.fixture(params=list(TABLES))
def table(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> tuple[VerbSpec, ...]:
    """The verb table the surfaces are built from; the second one is edited only in its rows."""
    verbs: tuple[VerbSpec, ...] = TABLES[request.param]
    registry = tuple(s for s in actions.ACTIONS if s.group != "rollout") + verb_actions(verbs)
    monkeypatch.setattr(actions, "ACTIONS", registry)
    for module in (actions, app_module):
        monkeypatch.setattr(module, "BY_ID", {s.id: s for s in registry})
    monkeypatch.setattr(OpsConsoleApp, "BINDINGS", bindings(registry))
    monkeypatch.setattr(OpsConsoleApp, "_merged_bindings", OpsConsoleApp._merge_bindings())  # as at class creation
    monkeypatch.setattr(cli_remote, "VERB_SPECS", verbs)
    return verbs


def rollout(verbs: tuple[VerbSpec, ...]) -> RolloutView:
    return RolloutView(id=1, service="checkout", status=RolloutStatus.RUNNING, stage_index=0,
                       stages=((10, "1m"), (100, "")), weight=10, target_weight=100, verbs=tuple(s.verb for s in verbs))


def verb_spec(verbs: tuple[VerbSpec, ...], spec: ActionSpec) -> VerbSpec:
    return next(v for v in verbs if v.action_id == spec.id)


def test_every_verb_has_one_row_a_handler_state_and_a_cli_line() -> None:
    assert sorted(s.verb for s in VERB_SPECS) == sorted(Verb)
    allowed = {verb for verbs in VERBS.values() for verb in verbs}
    assert allowed == set(Verb), "a verb no status allows"
    assert len({s.key for s in VERB_SPECS}) == len(VERB_SPECS)


async def test_each_verb_is_a_bound_key_a_help_line_and_a_palette_entry(make_app, table) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        rows = [s for s in shown(app) if s.group == "rollout"]
        assert [s.id for s in rows] == [v.action_id for v in table]
        active = {ab.binding.id: key for key, ab in app.active_bindings.items()}
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        help_text = str(app.screen.query_one("#help-text").render())
        await pilot.press("q")
        await pilot.press("ctrl+p")
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        palette = " ".join(str(o.prompt) for o in app.screen.query_one("CommandList").options)  # type: ignore[attr-defined]
        for spec in rows:
            verb = verb_spec(table, spec)
            assert active.get(spec.id) == verb.key, spec.id
            line = next(t for t in help_text.splitlines() if t.startswith(key_display(app, spec) + " "))
            assert verb.label in line and ("asks for confirmation" in line) == verb.confirm, line
            assert f"{verb.label} ({key_display(app, spec)})" in palette, spec.id
        assert ("freeze rollout" in help_text) == (Verb.FREEZE in [v.verb for v in table])


def test_each_verb_is_a_cli_subcommand_or_flag(table) -> None:
    parser = build_parser(remote_only=True)
    for verb in table:
        argv = ["rollout", verb.subcommand, *([f"--{verb.flag}"] if verb.flag else [])]
        args = parser.parse_args(argv)
        assert args.spec == verb
        assert hasattr(args, "yes") or not verb.confirm, "a confirmed verb without --yes"
    names = set(parser._subparsers._group_actions[0].choices["rollout"]._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert names == {"status"} | {v.subcommand for v in table}


@pytest.mark.parametrize("how", ["key", "palette"])
async def test_a_confirmed_verb_asks_in_the_one_dialog(make_app, source, table, how) -> None:
    source.current = snap(rollout=rollout(table))
    for verb in (v for v in table if v.confirm):
        source.submitted.clear()
        app = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            if how == "key":
                await pilot.press(verb.key)
            else:
                await pilot.press("ctrl+p")
                await pilot.pause()
                await pilot.press(*verb.label)
                await pilot.pause(0.2)
                await app.workers.wait_for_complete()
                await pilot.press("enter")
            await pilot.pause()
            dialog = app.screen
            assert type(dialog) is ConfirmScreen, verb
            assert "checkout #1 at 10%" in dialog.question
            await pilot.press(*"why", "enter", "y")
            if dialog.second is not None:  # promote to 100% asks again, with `f`
                await pilot.press("y")
                assert source.submitted == []
                await pilot.press("f")
            await pilot.pause()
            await app.workers.wait_for_complete()
            assert [(c.name, c.args) for c in source.submitted] == [(verb.command, {"reason": "why"})]


async def test_a_confirmed_verb_that_cannot_run_now_says_why_instead(make_app, source) -> None:
    source.current = snap(rollout=dataclasses.replace(rollout(VERB_SPECS), status=RolloutStatus.ROLLED_BACK,
                                                      verbs=(Verb.START,)))
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen) and source.submitted == []
        assert any("nothing to roll back: the rollout is rolled-back" in text for _, _, text in app.notices)
