"""The one confirmation dialog, for everything that asks first: confirmed rollout verbs, any other
destructive registry action, disabling a target, lifting a silence. `y` confirms; `n`, `q` or escape
cancels; enter is never "yes". With `reason=True`, a reason (or nothing) and enter come first; a
`second` question wants `f`, so two stray `y`s never skip every stage. The result is the command's
arguments ({"reason": ...} or {}), or None when cancelled.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from console.rollout_text import confirm_question
from engine.snapshot import Snapshot
from engine.verbs import VerbSpec

REASON, CONFIRM, SECOND = "reason", "confirm", "second"


class ConfirmScreen(ModalScreen[dict[str, Any] | None]):
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    /* A fixed width: with `width: auto` the box took its children's width, and theirs (1fr) was
       the box's: both 0, an empty 4x2 frame whose `y` still acted. 72 fits 80 columns. */
    ConfirmScreen > Vertical {
        width: 72; max-width: 95%; height: auto; max-height: 90%;
        border: round $warning; padding: 0 1; background: $surface;
    }
    ConfirmScreen Static { width: 100%; height: auto; }
    ConfirmScreen #confirm-hint { color: $text-muted; }
    ConfirmScreen #confirm-hint.-armed { color: $warning; text-style: bold; }
    """
    BINDINGS = [
        Binding("y", "yes", "yes", show=False),
        Binding("f", "second", "confirm 100%", show=False),
        Binding("n,q,escape", "cancel", "no", show=False),
    ]

    def __init__(self, question: str, *, title: str = "Confirm", verb: str = "yes", reason: bool = False,
                 second: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.verb = verb  # what `y` does: "roll back", "promote to 100%"
        self.asks_reason = reason
        self.second = second
        self.step = REASON if reason else CONFIRM

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Static(self.question, id="confirm-question")
            if self.asks_reason:
                yield Input(placeholder="reason (optional), then enter", id="confirm-reason")
                yield Static("enter: next · escape: cancel", id="confirm-hint")
            else:
                yield Static(f"y: {self.verb}    n / q / escape: no", id="confirm-hint")

    def on_mount(self) -> None:
        if self.asks_reason:
            self.query_one(Input).focus()

    @property
    def reason(self) -> str:
        return self.query_one(Input).value.strip() if self.asks_reason else ""

    def _hint(self, text: str) -> None:
        hint = self.query_one("#confirm-hint", Static)
        hint.update(text)
        hint.add_class("-armed")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.step = CONFIRM
        self.query_one(Input).disabled = True  # from here on, keys are answers, not text
        self._hint(f"y: {self.verb} now · n / escape: cancel")

    def action_yes(self) -> None:
        if self.step != CONFIRM:
            return
        if self.second is None:
            self.dismiss(self._args())
            return
        self.step = SECOND
        self.query_one("#confirm-question", Static).update(self.second)
        self._hint(f"second confirmation — f: {self.verb} · n / escape: cancel")

    def action_second(self) -> None:
        if self.step == SECOND:
            self.dismiss(self._args())

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _args(self) -> dict[str, Any]:
        return {"reason": self.reason} if self.reason else {}


def confirmation(command: str, description: str, verb: VerbSpec | None, snapshot: Snapshot | None) -> ConfirmScreen | str:
    """The dialog before a destructive registry action, or why it cannot run now. A rollout verb asks
    its own question (console/rollout_text.py, which the CLI's prompt shares); every one asks for a reason."""
    if verb is None:
        return ConfirmScreen(f"{description}: send {command!r} to the engine?", reason=True)
    asked = confirm_question(verb, snapshot)
    if isinstance(asked, str):
        return asked
    return ConfirmScreen(asked.text, title=asked.title, verb=verb.words, reason=True, second=asked.second)
