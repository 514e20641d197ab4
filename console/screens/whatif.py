"""Review's what-if: the recorded decisions, their replay with the run's own config, and the
replay with another config, side by side (engine/history/whatif.py computes it, in a worker).

Keys: `q` or escape closes; up/down scroll.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.history.source import HistorySource
from engine.history.whatif import WhatIfReport, span_for, what_if


class WhatIfScreen(ModalScreen[float | None]):
    DEFAULT_CSS = """
    WhatIfScreen { align: center middle; }
    WhatIfScreen > VerticalScroll { width: 95%; height: 90%; border: round $primary; background: $surface;
                                    padding: 0 1; }
    """
    BINDINGS = [Binding("q,escape", "close", "close")]

    def __init__(self, history: HistorySource, path: Path, config: Any) -> None:
        super().__init__()
        self.history, self.path, self.config = history, path, config
        self.report: WhatIfReport | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = f"What-if: {self.path.name}"
            box.border_subtitle = "up/down: scroll · q / escape: close"  # on the border: never scrolled away
            yield Static("replaying the recorded samples…", id="whatif-text")

    def on_mount(self) -> None:
        self._run()

    @work(thread=True, exclusive=True, group="what-if", exit_on_error=False)
    def _run(self) -> None:
        since, until = span_for(self.history.db, self.history.range.first, self.history.range.last)
        try:
            report = what_if(self.history.db, self.history.runs, self.config, since, until)
        except Exception as exc:  # say it in the screen; the review goes on
            self.app.call_from_thread(self._show_text, f"what-if failed: {type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._show, report)

    def _show_text(self, text: str) -> None:
        self.query_one("#whatif-text", Static).update(Content(text))

    def _show(self, report: WhatIfReport) -> None:
        self.report = report
        self._show_text("\n".join(report.lines()) + "\n\nq / escape: close")

    def action_close(self) -> None:
        self.dismiss(None)
