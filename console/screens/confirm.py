"""Confirmation for destructive actions: `y` confirms; `n`, `q` or escape cancels.

Enter is deliberately not "yes": a stray enter must never roll a service back.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    /* A fixed width: with `width: auto` the box took its children's width, and theirs (1fr) was
       the box's: both 0, an empty 4x2 frame whose `y` still acted. 64 fits 80 columns. */
    ConfirmScreen > Vertical {
        width: 64; max-width: 95%; height: auto; max-height: 90%;
        border: round $warning; padding: 0 1; background: $surface;
    }
    ConfirmScreen Static { width: 100%; height: auto; }
    ConfirmScreen .muted { color: $text-muted; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "yes", show=True),
        Binding("n,q,escape", "answer(False)", "no", show=True),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Confirm"
            yield Static(self.question)
            yield Static("y: yes    n / q / escape: no", classes="muted")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
