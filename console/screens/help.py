"""`?`: every key from the action registry, what it does, and whether it is disabled right now."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from console.actions import ActionSpec, key_display, refusal, shown

# Keys that belong to a panel, not to the registry: listed so the screen tells the whole story.
# tests/test_console_defects.py checks that every panel binding has its line here.
PANEL_KEYS: tuple[tuple[str, str], ...] = (
    ("tab / shift+tab", "move between panels"),
    ("up / down, j / k", "scroll a panel; move the cursor in Throughput, Memory, Errors, Gaps and Health"),
    ("enter", "Throughput, Memory: chart the selected series (1/2/3 zoom 5m/1h/24h)"),
    ("enter", "Errors: open the selected error"),
    ("enter", "Health: expand or fold the selected check's components"),
    ("^p", "command palette: every action by name, a chart of any series, a screenshot"),
)


def help_text(keys: list[tuple[str, ActionSpec]], read_only: bool, review: bool = False) -> Content:
    key_w = max(len(k) for k, _ in keys) + 2
    what_w = max(len(spec.description) for _, spec in keys) + 2  # "enable/disable target" ran into its group
    parts: list[str | tuple[str, str]] = []
    for key, spec in keys:
        note = refusal(spec, read_only, review=review)
        parts += [(f"{key:<{key_w}}", "bold"), f"{spec.description:<{what_w}}", (f"{spec.group:<8}", "$text-muted")]
        if note:
            parts.append((f" {note}", "$warning"))
        elif spec.destructive:
            parts.append((" asks for confirmation", "$text-muted"))
        parts.append("\n")
    parts.append("\n")
    for key, what in PANEL_KEYS:
        parts += [(f"{key:<18}", "bold"), what, "\n"]
    parts += ["\n", ("q / escape / ?: close", "$text-muted")]
    return Content.assemble(*parts)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: auto; max-height: 90%;
        border: round $primary; padding: 0 1; background: $surface;
    }
    """
    BINDINGS = [Binding("q,escape,question_mark", "close", "close")]

    def __init__(self, read_only: bool) -> None:
        super().__init__()
        self.read_only = read_only

    def compose(self) -> ComposeResult:
        keys = [(key_display(self.app, spec), spec) for spec in shown(self.app)]
        review = getattr(self.app, "reviewing", False)
        with VerticalScroll() as box:
            box.border_title = "Keys" + (" (review)" if review else " (read-only)" if self.read_only else "")
            box.border_subtitle = "up/down: scroll · q / escape / ?: close"  # on the border: never scrolled away
            yield Static(help_text(keys, self.read_only, review), id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
