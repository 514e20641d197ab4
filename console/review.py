"""Review mode: the same app and the same six panels, fed by a HistorySource, with a time cursor.

    opsconsole review history.db        (console/cli_review.py)

What review adds to the live console, and nothing else:
- a timeline strip above the footer: one line of marks across the recorded range (rollouts, `R`
  a rollback, `!` an alert that fired, `g` a gap, `o` an operator action, `|` an engine stop) with
  the cursor's column in reverse video, and one line with the cursor's date and time, play state,
  step, window and how the file was opened;
- time keys, declared in the one action registry (console/actions.py, group "review"):
  `[` `]` step one interval (the live refresh period), `{` `}` a minute, `<` `>` an hour,
  `n` / `N` next / previous event of the kind `f` cycles, space play/stop, `x` speed 1x/10x/60x,
  `g` go to a typed time, `z` window, `E` export the window,
  `w` what-if. Plain characters and letters only: tmux passes them as they are;
- the event log (`l`) and rollout timeline (`o`) of the live console, at the cursor: enter on a
  row moves the cursor there;
- every engine verb stays bound and is refused with "review mode: ... is disabled".

A cursor move updates the strip at once and builds the snapshot in a worker thread (SQLite); a
move made while a build runs is picked up when it ends, so holding `]` never queues builds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from console.actions import bindings
from console.app import OpsConsoleApp, PanelArea
from engine.history.cursor import HOUR, MINUTE, TimeCursor, TimeParseError, format_time, parse_time
from engine.history.source import HistorySource
from engine.history.timeline import Mark, column_of, marks, strip
from engine.history.whatif import WhatIfInput, load_what_if
from engine.units import format_duration

PLAY_TICK = 0.5  # seconds of wall time between cursor moves while playing
WINDOWS: tuple[float | None, ...] = (None, 15 * MINUTE, HOUR, 6 * HOUR, 24 * HOUR, 7 * 24 * HOUR)
CURSOR_STYLE = "reverse"


def window_text(window: float | None) -> str:
    return "live (120 points)" if window is None else format_duration(window)


class TimelineStrip(Widget):
    """Two lines: the marks with the cursor, and where the cursor is. Repaints only on change."""

    DEFAULT_CSS = """
    TimelineStrip { height: 2; dock: bottom; background: $panel; }
    """

    def __init__(self) -> None:
        super().__init__(id="timeline")
        self._content = Content("")
        self.key: tuple[Any, ...] = ()
        self.plain = ""

    def show(self, marks_line: str, cursor_column: int, info: str) -> None:
        key = (marks_line, cursor_column, info)
        if key == self.key:
            return
        self.key = key
        c = min(cursor_column, max(0, len(marks_line) - 1))
        self._content = Content.assemble(
            marks_line[:c], (marks_line[c:c + 1], CURSOR_STYLE), marks_line[c + 1:], "\n", (info, "$text-muted"))
        self.plain = f"{marks_line}\n{info}"
        self.refresh()

    def render(self) -> Content:
        return self._content


class PromptScreen(ModalScreen[str | None]):
    """One line of input: enter answers, escape or ctrl+g cancels. A refusal keeps it open and
    says why under the input (the typed text is kept)."""

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 70; max-width: 95%; height: auto; border: round $primary;
                              padding: 0 1; background: $surface; }
    PromptScreen #prompt-error { color: $error; }
    """
    BINDINGS = [Binding("escape,ctrl+g", "cancel", "cancel", show=False)]

    def __init__(self, title: str, hint: str, *, value: str = "", check: Any = None) -> None:
        super().__init__()
        self.title_text, self.hint, self.value, self.check = title, hint, value, check

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Input(value=self.value, placeholder=self.hint, id="prompt-input")
            yield Static(f"{self.hint} · enter: go · escape / ctrl+g: cancel", classes="muted")
            yield Static("", id="prompt-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.dismiss(None)
            return
        if self.check is not None:
            problem = self.check(text)
            if problem:
                self.query_one("#prompt-error", Static).update(Content(problem))
                return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReviewApp(OpsConsoleApp):
    BINDINGS = bindings(review=True)
    reviewing = True

    def __init__(self, source: HistorySource, *, theme: str | None = None, what_if: WhatIfInput | None = None,
                 title: str = "") -> None:
        kwargs: dict[str, Any] = {"title": title or source.opened.origin.name, "refresh": 1.0, "read_only": True}
        if theme:
            kwargs["theme"] = theme
        super().__init__(source, **kwargs)
        self.history = source
        run = source.run_at(source.cursor)
        interval = run.config.ui.refresh if run.config is not None else 1.0
        self.cursor = TimeCursor(source.range, source.cursor, interval)
        self.window_index = WINDOWS.index(source.window) if source.window in WINDOWS else 0
        self.what_if_input = what_if
        self.strip = TimelineStrip()
        self.marks: list[Mark] = marks(source.db, source.range)
        self._seeking = False
        self._play_timer: Timer | None = None
        self._play_last = 0.0

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield self.header
        with PanelArea(id="panels", can_focus=False):  # switches to the compact layout on a resize
            yield from self.panels
        yield self.strip
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.say(f"reviewing {self.history.opened.origin}: {self.history.opened.how}", timeout=6)
        self.update_strip()
        if self.what_if_input is not None:
            self.action_review_what_if()

    def on_resize(self) -> None:
        self.update_strip()

    def update_strip(self) -> None:
        width = max(10, self.size.width)
        rng = self.history.range
        play = f"▶ {self.cursor.speed:g}x" if self.cursor.playing else "paused"
        info = (f"{format_time(self.cursor.t)} · {play} · step {format_duration(self.cursor.interval)} · "
                f"n/N: {self.cursor.kind} · window {window_text(self.history.window)} · "
                f"{format_time(rng.first)} → {format_time(rng.last)}")
        self.strip.show(strip(self.marks, rng, width), column_of(self.cursor.t, rng, width), info[:width])

    # ------------------------------------------------------------------ moving the cursor
    def move_to(self, t: float) -> None:
        """Move the cursor; the snapshot for it is built in a worker (see the module docstring)."""
        self.cursor.jump(t)
        self.update_strip()
        if not self._seeking:
            self._seeking = True
            self.run_worker(self._build_until_current, thread=True, group="seek", exit_on_error=False)

    def _build_until_current(self) -> None:
        try:
            while True:
                target = self.cursor.t
                self.history.seek(target)
                if self.cursor.t == target:
                    break
        except Exception as exc:  # a damaged page, a vanished temp copy: say so, keep the last frame
            self.call_from_thread(self.say, f"cannot read the history at {format_time(self.cursor.t)}: {exc}",
                                  severity="error")
        finally:
            self.call_from_thread(self._built)

    def _built(self) -> None:
        self._seeking = False
        if self.history.cursor != self.cursor.t:  # moved again between the last build and now
            self.move_to(self.cursor.t)
        self.refresh_now()

    def step(self, seconds: float) -> None:
        self.move_to(self.cursor.t + seconds)

    def action_review_back(self) -> None:
        self.step(-self.cursor.interval)

    def action_review_forward(self) -> None:
        self.step(self.cursor.interval)

    def action_review_back_minute(self) -> None:
        self.step(-MINUTE)

    def action_review_forward_minute(self) -> None:
        self.step(MINUTE)

    def action_review_back_hour(self) -> None:
        self.step(-HOUR)

    def action_review_forward_hour(self) -> None:
        self.step(HOUR)

    def action_review_next_event(self) -> None:
        self._jump_event(forward=True)

    def action_review_previous_event(self) -> None:
        self._jump_event(forward=False)

    def _jump_event(self, forward: bool) -> None:
        event = self.cursor.neighbour(self.history.db, forward)
        if event is None:
            where = "after" if forward else "before"
            kind = "" if self.cursor.kind == "any" else f"{self.cursor.kind} "
            self.say(f"no {kind}event {where} {format_time(self.cursor.t)}", timeout=3)
            return
        self.say(f"{event['kind']} · {event['source']}: {event['message']}", title=format_time(event["t"]), timeout=4)
        self.move_to(event["t"])

    def action_review_event_kind(self) -> None:
        self.say(f"n / N jump to the next / previous {self.cursor.cycle_kind()} event", timeout=2)
        self.update_strip()

    # ------------------------------------------------------------------ play
    def action_review_play(self) -> None:
        if not self.cursor.toggle_play():
            if self.cursor.at_end:
                self.say("at the end of the recording: step back or go to a time first", timeout=3)
            self._stop_play()
            self.update_strip()
            return
        self._play_last = time.monotonic()
        self._play_timer = self.set_interval(PLAY_TICK, self._play_tick)
        self.update_strip()

    def _play_tick(self) -> None:
        now = time.monotonic()
        elapsed, self._play_last = now - self._play_last, now
        self.move_to(self.cursor.advance(elapsed))
        if not self.cursor.playing:
            self._stop_play()
            self.say("play stopped: end of the recording", timeout=3)
            self.update_strip()

    def _stop_play(self) -> None:
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None

    def action_review_speed(self) -> None:
        self.say(f"play speed {self.cursor.cycle_speed():g}x", timeout=2)
        self.update_strip()

    # ------------------------------------------------------------------ typed time, window
    def action_review_goto(self) -> None:
        def check(text: str) -> str:
            try:
                parse_time(text, now=self.cursor.t, bounds=self.history.range)
            except TimeParseError as exc:
                return str(exc)
            return ""

        def answer(text: str | None) -> None:
            if text is None:
                return
            t = parse_time(text, now=self.cursor.t, bounds=self.history.range)
            clamped = self.history.range.clamp(t)
            if clamped != t:
                self.say(f"{format_time(t)} is outside the recording; went to {format_time(clamped)}", timeout=4)
            self.move_to(clamped)

        self.push_screen(PromptScreen("Go to time", "14:02, 14:02:07, 2026-11-22 14:02, -5m, +1h, start, end",
                                      check=check), callback=answer)

    def action_review_window(self) -> None:
        self.window_index = (self.window_index + 1) % len(WINDOWS)
        self.history.window = WINDOWS[self.window_index]
        self.say(f"window: {window_text(self.history.window)}", timeout=2)
        self.move_to(self.cursor.t)

    # ------------------------------------------------------------------ screens
    def action_events(self) -> None:
        from console.screens.event_log import EventLogScreen

        self.push_screen(EventLogScreen(self.history.db, self.cursor.t), callback=self._jump_from_screen)

    def action_show_config(self) -> None:
        self.show_run_config(self.history.run_at(self.cursor.t), "the run at the cursor")

    def action_rollouts(self) -> None:
        from console.screens.rollout_timeline import RolloutTimelineScreen

        self.push_screen(RolloutTimelineScreen(self.history.db, self.history.runs, self.cursor.t),
                         callback=self._jump_from_screen)

    def _jump_from_screen(self, t: float | None) -> None:
        if t is not None:
            self.move_to(t)
        else:
            self.refresh_now()

    def action_review_export(self) -> None:
        self.run_worker(self._export, thread=True, group="export", exit_on_error=False)

    def _export(self) -> None:
        from engine.history.export import ExportRequest, export_to_path

        t1 = self.cursor.t
        window = self.history.window
        if window is None:  # the span the ring buffers cover at the cursor
            starts = [s.times[0] for s in self.history.snapshot().series if s.times]
            t0 = min(starts) if starts else t1 - HOUR
        else:
            t0 = t1 - window
        stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime(t1))
        path = Path.cwd() / f"{self.history.opened.origin.stem}-{stamp}.csv"
        try:
            rows = export_to_path(self.history.db, ExportRequest(t0, t1), path, str(self.history.opened.origin))
        except (OSError, ValueError) as exc:
            self.call_from_thread(self.say, f"export failed: {exc}", severity="error")
            return
        self.call_from_thread(self.say, f"exported {rows:,} samples ({format_time(t0)} → {format_time(t1)}) to {path}",
                              title="export", timeout=10)

    def action_review_what_if(self) -> None:
        from console.screens.whatif import WhatIfScreen

        if self.what_if_input is None:
            def answer(text: str | None) -> None:
                if text is not None:
                    self.what_if_input = WhatIfInput(Path(text).expanduser(), load_what_if(Path(text).expanduser()))
                    self.action_review_what_if()

            self.push_screen(PromptScreen("What-if: another config", "path to a config.yaml with other thresholds",
                                          check=what_if_problem), callback=answer)
            return
        self.push_screen(WhatIfScreen(self.history, self.what_if_input.path, self.what_if_input.config),
                         callback=self._jump_from_screen)

    # ------------------------------------------------------------------ refusals
    async def action_op(self, action_id: str) -> None:
        from console.actions import BY_ID, refusal

        why = refusal(BY_ID[action_id], True, review=True)
        if why:
            self.say(why, severity="warning")
            return
        await super().action_op(action_id)


def what_if_problem(text: str) -> str:
    from engine.config.loader import ConfigError

    try:
        load_what_if(Path(text).expanduser())
    except ConfigError as exc:
        return str(exc).splitlines()[0]
    return ""
