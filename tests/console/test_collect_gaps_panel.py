"""The Gaps panel: open gaps first with their cause, recent closed ones with their duration, target
states with the last error; `e` disables (confirmed) or enables the selected target."""

from __future__ import annotations

import pytest
from console_fakes import T0, snap

from console.panels.gaps import GapsPanel
from console.screens.confirm import ConfirmScreen
from engine.commands import CommandResult
from engine.snapshot import GapView, TargetView

NOW = T0 + 100

TARGETS = (
    TargetView("api", "OK", None),
    TargetView("billing", "OPEN", "circuit open (connection refused); next probe in 42s"),
    TargetView("legacy", "DISABLED"),
)
GAPS = (
    GapView("collect:billing", NOW - 90, None, "target down: connection refused"),
    GapView("host", NOW - 300, NOW - 240, "paused by operator"),
    GapView("collect:api", NOW - 3600, NOW - 3540, "engine not running"),
)


def plain(view) -> list[str]:  # noqa: ANN001
    return ["".join(text for text, _ in line) for line in view]


def test_open_gaps_first_then_closed_then_targets() -> None:
    lines = plain(GapsPanel().view(snap(gaps=GAPS, targets=TARGETS, configured=frozenset({"collect"})), 60))
    assert lines == [
        "OPEN collect:billing 1m",
        "     target down: connection refused",
        "closed host 1m: paused by operator, 4m ago",
        "closed collect:api 1m: engine not running, 59m ago",
        "api     OK         ",  # the name column fits the longest name
        "billing OPEN        circuit open (connection refused); next…",  # cut at the width
        "legacy  DISABLED   ",
    ]


def test_many_open_gaps_take_one_row_each_so_the_targets_stay_in_view() -> None:
    outage = tuple(GapView(f"collect:t{i}", NOW - 30, None, "target down: connection refused") for i in range(5))
    lines = plain(GapsPanel().view(snap(gaps=outage, targets=TARGETS, configured=frozenset({"collect"})), 60))
    assert lines[:5] == [f"OPEN collect:t{i} 30s target down: connection refused" for i in range(5)]
    assert lines[5].startswith("api ") and len(lines) == 8


def test_at_120_columns_target_names_are_whole() -> None:
    """The 38-column Gaps panel of a 120x40 terminal: 'baseline-health', not 'baseline-he…'."""
    targets = (TargetView("baseline-health", "OK"), TargetView("canary-health", "OPEN", "HTTP 503"))
    lines = plain(GapsPanel().view(snap(targets=targets, configured=frozenset({"collect"})), 38))
    assert [row.split()[:2] for row in lines[1:]] == [["baseline-health", "OK"], ["canary-health", "OPEN"]], lines


def test_states_are_coloured_by_word() -> None:
    view = GapsPanel().view(snap(targets=TARGETS, configured=frozenset({"collect"})), 60)
    states = [line[1] for line in view if len(line) > 1]
    assert states == [("OK".ljust(11), "$success"), ("OPEN".ljust(11), "$error"), ("DISABLED".ljust(11), "$text-muted")]


def app_with_targets(make_app, source):  # noqa: ANN001, ANN201
    source.current = snap(targets=TARGETS, configured=frozenset({"collect"}))
    return make_app()


@pytest.mark.parametrize("answer", ["y", "n"])
async def test_e_disables_the_selected_target_after_confirmation(make_app, source, answer: str) -> None:
    source.handlers["collect.disable"] = lambda c: CommandResult(True, f"{c.args['target']}: collection disabled")
    app = app_with_targets(make_app, source)
    async with app.run_test() as pilot:
        app.screen.query_one("#gaps").focus()
        await pilot.press("down")  # from api to billing
        await pilot.press("e")
        assert isinstance(app.screen, ConfirmScreen)
        assert "disable target 'billing'?" in app.screen.question
        await pilot.press(answer)
        await app.workers.wait_for_complete()
        await pilot.pause()
    sent = [(c.name, c.args) for c in source.submitted]
    assert sent == ([("collect.disable", {"target": "billing"})] if answer == "y" else [])


async def test_e_enables_a_disabled_target_without_asking(make_app, source) -> None:
    source.handlers["collect.enable"] = lambda c: CommandResult(True, "legacy: collection enabled")
    app = app_with_targets(make_app, source)
    async with app.run_test() as pilot:
        app.screen.query_one("#gaps").focus()
        await pilot.press("down", "down", "down")  # stops at the last target
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
    assert [(c.name, c.args) for c in source.submitted] == [("collect.enable", {"target": "legacy"})]
    assert any("legacy: collection enabled" in text for _, _, text in app.notices)


async def test_e_is_refused_in_read_only_mode(make_app, source) -> None:
    app = app_with_targets(make_app, source)
    app.read_only = True
    async with app.run_test() as pilot:
        await pilot.press("e")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
    assert source.submitted == []
    assert any("read-only: enabling or disabling a target is disabled" in text for _, _, text in app.notices)
