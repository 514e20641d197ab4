"""Confirmation for rollback and promote-to-100%, keyboard only, with an optional reason.

Steps: type a reason (or nothing) and press enter; then `y` confirms. Promote-to-100% asks a
second, distinct question: `f` (for "full"), so two stray `y`s can never skip every stage.
`n` or escape cancels at any step (escape also while typing). Enter alone never confirms.

The result is the command's arguments ({"reason": ...}), or None when cancelled.
"""

from __future__ import annotations

import time
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from console import rollback_window
from console.rollback_window import clock
from engine.snapshot import RolloutView, Snapshot

REASON, CONFIRM, SECOND = "reason", "confirm", "second"


class RolloutConfirmScreen(ModalScreen[dict[str, Any] | None]):
    DEFAULT_CSS = """
    RolloutConfirmScreen { align: center middle; }
    RolloutConfirmScreen > Vertical {
        width: 72; max-width: 95%; height: auto;
        border: round $error; padding: 0 1; background: $surface;
    }
    RolloutConfirmScreen #rollout-hint { color: $text-muted; }
    RolloutConfirmScreen #rollout-hint.-armed { color: $warning; text-style: bold; }
    """
    BINDINGS = [
        Binding("y", "yes", "confirm", show=False),
        Binding("f", "second", "confirm 100%", show=False),
        Binding("n", "cancel", "cancel", show=False),
        Binding("escape", "cancel", "cancel", show=False),
    ]

    def __init__(self, title: str, question: str, *, verb: str, second: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.verb = verb  # "roll back", "promote to 100%"
        self.second = second  # the second question, for promote-to-100%
        self.step = REASON

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Static(self.question, id="rollout-question")
            yield Input(placeholder="reason (optional), then enter", id="rollout-reason")
            yield Static("enter: next · escape: cancel", id="rollout-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @property
    def reason(self) -> str:
        return self.query_one(Input).value.strip()

    def _hint(self, text: str) -> None:
        hint = self.query_one("#rollout-hint", Static)
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
        self.query_one("#rollout-question", Static).update(self.second)
        self._hint(f"second confirmation — f: {self.verb} · n / escape: cancel")

    def action_second(self) -> None:
        if self.step == SECOND:
            self.dismiss(self._args())

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _args(self) -> dict[str, Any]:
        return {"reason": self.reason} if self.reason else {}


def _where(r: RolloutView) -> str:
    stage = f"stage {r.stage_index + 1}/{len(r.stages)}" if r.stage_index >= 0 else "not started"
    return f"{r.service} #{r.id} at {r.weight}% ({stage}, {r.status})"


def confirm_rollback(snapshot: Snapshot | None) -> RolloutConfirmScreen | str:
    """The rollback modal, or why there is nothing to roll back."""
    r = snapshot.rollout if snapshot is not None else None
    now = snapshot.taken_at if snapshot is not None else time.time()
    if r is not None and r.status == "promoted" and not ("rollback" in r.verbs and rollback_window.is_open(r, now)):
        return rollback_window.closed_sentence(r)
    if r is None or "rollback" not in r.verbs:
        return f"nothing to roll back: the rollout is {r.status if r else 'not configured'}"
    if r.status == "promoted" and r.ended is not None and r.rollback_until is not None:
        question = (f"Undo the promotion of {r.service} #{r.id} (100% since {clock(r.ended)}, rollback window open "
                    f"until {clock(r.rollback_until)}): all traffic back to the stable version (0%)?")
        return RolloutConfirmScreen("Roll back the promotion", question, verb="roll back")
    return RolloutConfirmScreen(
        "Roll back", f"Roll back {_where(r)}: all traffic back to the stable version (0%)?", verb="roll back"
    )


def confirm_promote_full(snapshot: Snapshot | None) -> RolloutConfirmScreen | str:
    r = snapshot.rollout if snapshot is not None else None
    if r is None or "promote_full" not in r.verbs:
        return f"nothing to promote: the rollout is {r.status if r else 'not configured'}"
    skipped = [str(w) for i, (w, _) in enumerate(r.stages) if i > r.stage_index]
    skipping = f", skipping {' → '.join(skipped)}" if skipped else ""
    return RolloutConfirmScreen(
        "Promote to 100%",
        f"Promote {_where(r)} straight to 100%{skipping}?",
        verb="promote to 100%",
        second=f"All traffic goes to the canary of {r.service} at once, with no further analysis stage. Sure?",
    )
