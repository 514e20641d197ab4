"""The full text and context of one error group (opened with enter from the Errors panel)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from console.render import age, clock
from engine.snapshot import ErrorGroup


def describe(group: ErrorGroup, now: float | None) -> Content:
    seen = f"first seen {clock(group.first_seen)}, last seen {clock(group.last_seen)}"
    if now is not None:
        seen += f" ({age(now - group.last_seen)} ago)"
    parts: list[Content | str | tuple[str, str]] = [
        ("source ", "$text-muted"), group.source, "\n",
        ("count  ", "$text-muted"), f"{group.count}", "\n",
        ("seen   ", "$text-muted"), seen, "\n\n",
        (group.message, "bold"), "\n",
    ]
    if group.context:
        parts += ["\n", ("context", "$text-muted"), "\n", group.context, "\n"]
    parts += ["\n", ("q / escape / enter: close", "$text-muted")]
    return Content.assemble(*parts)


class ErrorDetailScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ErrorDetailScreen { align: center middle; }
    ErrorDetailScreen > VerticalScroll {
        width: 90%; max-width: 110; height: auto; max-height: 90%;
        border: round $error; padding: 0 1; background: $surface;
    }
    """
    BINDINGS = [
        Binding("q,escape,enter", "close", "close", show=True),
    ]

    def __init__(self, group: ErrorGroup, now: float | None = None) -> None:
        super().__init__()
        self.group = group
        self.now = now

    def compose(self) -> ComposeResult:
        with VerticalScroll() as box:
            box.border_title = "Error detail"
            yield Static(describe(self.group, self.now), id="error-text")

    def action_close(self) -> None:
        self.dismiss(None)
