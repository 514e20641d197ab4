"""The active silences (`m`): which alert rules are muted, by whom, why and until when; `x` lifts
the highlighted one early (after a confirmation, as the `alerts.unsilence` verb, audited).

The list follows the snapshot while open (a silence that runs out leaves it), in live and attached
consoles alike; in review it is the list at the time cursor, and lifting is refused there.
Keys: up/down choose, `x` or delete lift early, `q` or escape close.
"""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from console.render import clock
from engine.snapshot import SilenceView, Snapshot
from engine.units import format_duration


def remaining(silence: SilenceView, now: float) -> str:
    """"1h59m left": to the minute (the column changes once a minute), seconds in the last one."""
    left = silence.expires - now
    if left <= 0:
        return "expiring"
    return f"{format_duration(left // 60 * 60 if left >= 60 else int(left))} left"


class SilencesScreen(ModalScreen[SilenceView | None]):
    """The result is the silence to lift early (the app confirms and sends it), or None."""

    DEFAULT_CSS = """
    SilencesScreen { align: center middle; }
    SilencesScreen > Vertical { width: 100%; max-width: 140; height: auto; max-height: 90%;
                                border: round $warning; background: $surface; }
    SilencesScreen DataTable { height: auto; max-height: 20; }
    SilencesScreen #silences-status { color: $text-muted; height: auto; }
    """
    BINDINGS = [
        Binding("q,escape", "close", "close"),
        Binding("x,delete", "lift", "lift early"),
    ]

    def __init__(self, snapshot: Snapshot | None, *, refresh: float = 1.0) -> None:
        super().__init__()
        self.silences: tuple[SilenceView, ...] = snapshot.silences if snapshot is not None else ()
        self.now = snapshot.taken_at if snapshot is not None else time.time()
        self.refresh_interval = refresh

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Silences"
            yield DataTable(id="silences-table", cursor_type="row", zebra_stripes=False)
            yield Static("", id="silences-status")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("rule", "by", "until", "left", "why")
        table.focus()
        self._fill()
        self.set_interval(self.refresh_interval, self._follow)

    def _follow(self) -> None:
        snapshot = getattr(self.app, "snapshot", None)
        if snapshot is None:
            return
        changed = snapshot.silences != self.silences
        self.silences, self.now = snapshot.silences, snapshot.taken_at
        if changed:
            self._fill()
        else:  # only the time left moves: update that column in place
            table = self.query_one(DataTable)
            for row, s in enumerate(self.silences):
                table.update_cell_at((row, 3), remaining(s, self.now))

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        at = table.cursor_row
        table.clear()
        for s in self.silences:
            table.add_row(s.rule, s.author, clock(s.expires), remaining(s, self.now), s.comment)
        if self.silences:
            table.move_cursor(row=min(at, len(self.silences) - 1))
        status = (f"{len(self.silences)} active · x: lift early · q: close" if self.silences else
                  "no active silences · `s` on the console silences a firing alert · q: close")
        self.query_one("#silences-status", Static).update(status)

    def action_lift(self) -> None:
        row = self.query_one(DataTable).cursor_row
        if 0 <= row < len(self.silences):
            self.dismiss(self.silences[row])
        else:
            self.notify("no silence to lift", severity="warning", timeout=3)

    def action_close(self) -> None:
        self.dismiss(None)
