"""Data gaps: open gaps first (series, since when, cause), then recently closed ones with their
duration, then each collection target's state (OK / RETRYING / OPEN / AUTH FAILED / FAIL /
DISABLED) and last error.

The target list has a cursor (up/down or j/k while the panel has focus); `e` (the registry's
`toggle_target`, a verb on this panel's selection) disables the selected target after a
confirmation, or enables it again.
"""

from __future__ import annotations

from typing import Protocol, cast

from textual.binding import Binding
from textual.geometry import Region

from console.compact import labelled, titled
from console.panels.base import MUTED, Line, Panel, View, add_to_config, line, sentence, status_span
from console.render import age, fit
from console.screens.confirm import ConfirmScreen
from engine.commands import Command
from engine.snapshot import GapView, Snapshot, TargetState, TargetView
from engine.units import format_duration

RECENT_CLOSED = 5
COMPACT_OVER = 3  # open gaps; more take one row each
STATE_W = 11  # the state column: "AUTH FAILED"


class CommandSender(Protocol):
    def send_command(self, command: Command) -> None: ...
CURSOR_STYLE = "reverse"


class GapsPanel(Panel):
    TITLE = "Gaps"
    BINDINGS = [
        Binding("down,j", "cursor(1)", "next target", show=False),
        Binding("up,k", "cursor(-1)", "previous target", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.selected: str | None = None  # a target name: new targets or gaps don't move it
        self._targets: tuple[TargetView, ...] = ()
        self._first_target_row = 0

    def view(self, snapshot: Snapshot, width: int) -> View:
        self._targets = snapshot.targets
        open_gaps = sorted((g for g in snapshot.gaps if g.end is None), key=lambda g: g.start)
        closed = sorted((g for g in snapshot.gaps if g.end is not None), key=lambda g: g.end or 0, reverse=True)
        if not snapshot.gaps and not snapshot.targets:
            if "collect" not in snapshot.configured:
                return sentence(f"no collection configured — {add_to_config('collect:', snapshot.config_name)}", width)
            return sentence("no gaps, no targets reporting yet", width)
        rows: list[Line] = []
        # Many open gaps (a network outage) take one row each, so the targets below, each with its
        # own cause, stay on screen at 40 rows.
        compact = len(open_gaps) > COMPACT_OVER
        for g in open_gaps:
            rows += self._open_rows(g, snapshot.taken_at, width, compact)
        rows += [self._closed_row(g, snapshot.taken_at, width) for g in closed[:RECENT_CLOSED]]
        if not snapshot.gaps:
            rows.append(line(("no gaps", MUTED)))
        cursor = self.cursor_index()
        # The name column fits the longest name ("baseline-health", not "baseline-he…"), leaving
        # the state and ten columns of its cause.
        name_w = min(max([6, *(len(t.name) for t in snapshot.targets)]), max(6, width - STATE_W - 11))
        self._first_target_row = len(rows)
        for i, t in enumerate(snapshot.targets):
            rows.append(self._target_row(t, width, name_w, selected=i == cursor and self.has_focus))
        return tuple(rows)

    def summary(self, snapshot: Snapshot, width: int) -> View:
        """`Gaps OPEN 1: collect:canary 20s · 2 closed · targets 3 OK, 1 OPEN`."""
        self._targets = snapshot.targets
        open_gaps = sorted((g for g in snapshot.gaps if g.end is None), key=lambda g: g.start)
        parts: list[Line] = []
        if open_gaps:
            g = open_gaps[0]
            more = f" (+{len(open_gaps) - 1})" if len(open_gaps) > 1 else ""
            parts.append(line(labelled(status_span("OPEN")), f" {g.series} {age(snapshot.taken_at - g.start)}{more}"))
        else:
            parts.append(line(("no open gaps", MUTED)))
        closed = len(snapshot.gaps) - len(open_gaps)
        if closed:
            parts.append(line((f"{closed} closed", MUTED)))
        states: dict[str, int] = {}
        for t in snapshot.targets:
            states[t.state] = states.get(t.state, 0) + 1
        if states:
            counted: list[str | tuple[str, str]] = ["targets"]
            for i, (state, n) in enumerate(sorted(states.items(), key=lambda kv: kv[0] == TargetState.OK)):
                counted += [("," if i else "") + f" {n} ", labelled(status_span(state))]
            parts.append(line(*counted))
        return (titled(self.TITLE, parts, width),)

    @staticmethod
    def _open_rows(g: GapView, now: float, width: int, compact: bool) -> list[Line]:
        """`OPEN <series> <age>` and, indented below, the cause (it is often long); compact: all
        on one row, the cause cut to fit."""
        since = f" {age(now - g.start)}"
        if compact:
            return [line(("OPEN", "$error"), fit(f" {g.series}{since} {g.cause}", width - 4))]
        series = fit(g.series, max(4, width - 5 - len(since)))
        return [line(("OPEN", "$error"), f" {series}{since}"), line((fit(f"     {g.cause}", width), MUTED))]

    @staticmethod
    def _closed_row(g: GapView, now: float, width: int) -> Line:
        duration = format_duration((g.end or g.start) - g.start)
        ago = age(now - (g.end or g.start))
        return line((fit(f"closed {g.series} {duration}: {g.cause}, {ago} ago", width), MUTED))  # cut: age first

    @staticmethod
    def _target_row(t: TargetView, width: int, name_w: int, *, selected: bool = False) -> Line:
        """`name  STATE  cause`, the cause cut to the row."""
        head = (f"{fit(t.name, name_w):<{name_w}} ", CURSOR_STYLE if selected else "")
        state = status_span(t.state, STATE_W)
        tail = fit(f" {t.last_error}", max(0, width - name_w - STATE_W - 1)) if t.last_error else ""
        return line(head, state, tail)

    # ------------------------------------------------------------------ cursor and verb
    def cursor_index(self) -> int:
        names = [t.name for t in self._targets]
        return names.index(self.selected) if self.selected in names else 0

    def selected_target(self) -> TargetView | None:
        return self._targets[self.cursor_index()] if self._targets else None

    def action_cursor(self, step: int) -> None:
        if not self._targets:
            return
        index = min(len(self._targets) - 1, max(0, self.cursor_index() + step))
        self.selected = self._targets[index].name
        self.redraw()
        self.scroll_to_region(Region(0, self._first_target_row + index, 1, 1), animate=False)

    def action_toggle_target(self) -> None:
        """Enable the selected target, or disable it after a confirmation (its series go silent)."""
        target = self.selected_target()
        if target is None:
            self.app.notify("no collection target to enable or disable", severity="warning")
            return
        app = self.app
        sender = cast(CommandSender, app)  # the console app: sends, awaits and shows the result
        if target.state == TargetState.DISABLED:
            sender.send_command(Command("collect.enable", {"target": target.name}))
            return
        question = f"disable target {target.name!r}? Collection stops and its series show a gap until enabled."

        def answered(args: dict[str, object] | None) -> None:
            if args is not None:
                sender.send_command(Command("collect.disable", {"target": target.name}))
            else:
                app.notify(f"{target.name}: left enabled")

        app.push_screen(ConfirmScreen(question), callback=answered)

    def on_focus(self) -> None:
        # After the event: Widget._on_focus, which sets has_focus, runs after this subclass handler.
        self.call_next(self.redraw)

    def on_blur(self) -> None:
        self.call_next(self.redraw)
