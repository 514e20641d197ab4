"""The event log, live and in review: every recorded event and audit row, newest first, filtered
as you type; the highlighted row's whole message and data below the table.

Filter line: `kind:alert,gap,audit sev:critical src:canary code:rollout. words` (each part optional,
any order; `code:` matches an event code or its beginning, docs/schema.md lists them).
Keys: `/` edits the filter (rows follow each keystroke), enter or escape goes back to the rows;
`q` or escape closes.
- Live (`l` on the console): the newest 500 rows of the running engine's history, read alongside
  the engine. Follow mode (on at first, `f` toggles) re-reads them every refresh period and keeps
  the newest row selected; moving the selection down stops following, as `less +F` does.
- Review: the newest 300 rows up to the time cursor and the next 200 after it, with the row at the
  cursor selected; enter on a row moves the time cursor there.
Queries run in a worker thread; a filter typed while one runs replaces it.
"""

from __future__ import annotations

import json
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from console.symbols import severity_label
from engine.history.cursor import format_time
from engine.history.db import EventFilter, HistoryDB
from engine.history.eventlog import LogRow, newest_rows, rows_around

LIVE_ROWS = 500
FILTER_HINT = "kind:alert,gap,audit sev:critical src:canary code:rollout. text"


class EventLogScreen(ModalScreen[float | None]):
    DEFAULT_CSS = """
    EventLogScreen { align: center middle; }
    EventLogScreen > Vertical { width: 100%; height: 100%; border: round $primary; background: $surface; }
    EventLogScreen DataTable { height: 1fr; }
    EventLogScreen #events-status { color: $text-muted; height: 1; }
    EventLogScreen #events-detail { height: auto; max-height: 6; border-top: solid $primary-muted; }
    """
    BINDINGS = [
        Binding("q,escape", "close", "close"),
        Binding("slash", "filter", "filter"),
        Binding("f", "follow", "follow", show=False),
    ]

    def __init__(self, history: HistoryDB | Path, cursor: float | None = None, query: str = "",
                 *, refresh: float = 1.0) -> None:
        """`history`: review's open HistoryDB, or the live engine's history file (opened here,
        read-only, and closed with the screen). `cursor`: the review time, None when live."""
        super().__init__()
        self.history = history
        self.db: HistoryDB | None = history if isinstance(history, HistoryDB) else None
        self._opened = None  # the OpenedHistory this screen opened (live), closed on unmount
        self.cursor = cursor
        self.filter_text = query
        self.refresh_interval = refresh
        self.following = cursor is None
        self.rows: list[LogRow] = []
        self._shown_key: tuple[object, ...] = ()
        self._timer: Timer | None = None

    @property
    def live(self) -> bool:
        return self.cursor is None

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Event log (live)" if self.live else f"Events around {format_time(self.cursor)}"
            yield Input(value=self.filter_text, placeholder=FILTER_HINT, id="events-filter")
            yield Static("reading…", id="events-status")
            yield DataTable(id="events-table", cursor_type="row", zebra_stripes=False)
            yield Static("", id="events-detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("time", "kind", "severity", "source", "message")
        table.focus()
        self.reload()
        if self.live:
            self._timer = self.set_interval(self.refresh_interval, self._follow_tick)

    def on_unmount(self) -> None:
        if self._opened is not None:
            self._opened.close()

    # ------------------------------------------------------------------ reading
    def reload(self) -> None:
        self._load(self.query_one(Input).value)

    def _follow_tick(self) -> None:
        if self.following:
            self.reload()

    @work(thread=True, exclusive=True, group="event-log", exit_on_error=False)
    def _load(self, text: str) -> None:
        flt = EventFilter.parse(text)
        try:
            db = self._database()
            if self.cursor is None:
                rows, at = newest_rows(db, flt, limit=LIVE_ROWS), 0
            else:
                rows, at = rows_around(db, flt, self.cursor)
        except Exception as exc:  # a damaged or missing file: say so in the screen, keep it open
            self.app.call_from_thread(self._show_status, f"cannot read the history: {exc}")
            return
        self.app.call_from_thread(self._show, rows, at, flt)

    def _database(self) -> HistoryDB:
        if self.db is None:
            from engine.history.opener import open_history

            self._opened = open_history(Path(self.history))
            self.db = self._opened.db
        return self.db

    # ------------------------------------------------------------------ showing
    def _show_status(self, text: str) -> None:
        self.query_one("#events-status", Static).update(Content(text))

    def _show(self, rows: list[LogRow], at: int, flt: EventFilter) -> None:
        key = (tuple(r.key for r in rows), at)
        status = self._status_text(len(rows), flt)
        self._show_status(status)
        if key == self._shown_key:  # a follow tick with nothing new: nothing repainted
            return
        self._shown_key = key
        self.rows = rows
        table = self.query_one(DataTable)
        table.clear()
        for r in rows:
            table.add_row(format_time(r.t), r.kind, severity_label(r.severity), r.source, r.message)
        if rows:
            table.move_cursor(row=at)
        self._show_detail(at)

    def _status_text(self, count: int, flt: EventFilter) -> str:
        described = " ".join(filter(None, [
            f"kinds {','.join(flt.kinds)}" if flt.kinds else "",
            f"severity {','.join(flt.severities)}" if flt.severities else "",
            f"source ~{flt.source}" if flt.source else "", f"code {','.join(flt.codes)}" if flt.codes else "",
            f"text ~{flt.text!r}" if flt.text else ""])) or "no filter"
        keys = ("f: stop following" if self.following else "f: follow") if self.live else "enter: go there"
        mode = " · following" if self.live and self.following else ""
        return f"{count} rows, newest first ({described}){mode} · {keys} · /: filter · q: close"

    def _show_detail(self, index: int) -> None:
        detail = self.query_one("#events-detail", Static)
        if not 0 <= index < len(self.rows):
            detail.update("")
            return
        r = self.rows[index]
        parts: list[str | tuple[str, str]] = [
            (f"{format_time(r.t)} {r.code or r.kind} {severity_label(r.severity)} {r.source}", "$text-muted"), "\n",
            r.message]
        if r.data:
            parts += ["\n", (json.dumps(r.data, sort_keys=True, ensure_ascii=False, default=str), "$text-muted")]
        detail.update(Content.assemble(*parts))

    # ------------------------------------------------------------------ input
    def on_input_changed(self, event: Input.Changed) -> None:
        self._shown_key = ()
        self.reload()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.cursor_row)
        if self.live and self.following and event.cursor_row > 0:  # reading older rows: hold still
            self.following = False
            self._show_status(self._status_text(len(self.rows), EventFilter.parse(self.query_one(Input).value)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        index = event.cursor_row
        if not self.live and 0 <= index < len(self.rows):
            self.dismiss(self.rows[index].t)

    def action_follow(self) -> None:
        if not self.live:
            self.notify("follow is for the live log; in review, close it and press space to play", timeout=3)
            return
        self.following = not self.following
        if self.following:
            self._shown_key = ()
            self.reload()
        else:
            self._show_status(self._status_text(len(self.rows), EventFilter.parse(self.query_one(Input).value)))

    def action_filter(self) -> None:
        self.query_one(Input).focus()

    def action_close(self) -> None:
        if self.query_one(Input).has_focus:  # escape in the filter: back to the rows first
            self.query_one(DataTable).focus()
            return
        self.dismiss(None)
