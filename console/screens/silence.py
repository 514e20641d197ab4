"""Acknowledge an alert by silencing it, with a comment and a duration. Keyboard only.

    up/down  choose the alert (the first unmuted firing one is chosen to start with)
    comment  required: it goes into the history with your name
    for      how long: 30m, 2h, 1d (1m..7d)
    enter    silence · tab: next field · escape: cancel

The result is the `alerts.silence` command's arguments, or None when cancelled. The engine checks
them again and audits the command either way.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from console.panels.health import SEVERITY_STYLES, alert_value
from console.render import fit
from engine.alerts.silences import parse_request
from engine.snapshot import AlertView, Snapshot

DEFAULT_DURATION = "1h"
CHOOSABLE = ("firing", "pending", "nodata")


class SilenceScreen(ModalScreen[dict[str, Any] | None]):
    DEFAULT_CSS = """
    SilenceScreen { align: center middle; }
    SilenceScreen > Vertical {
        width: 76; max-width: 95%; height: auto;
        border: round $warning; padding: 0 1; background: $surface;
    }
    SilenceScreen #silence-hint { color: $text-muted; }
    SilenceScreen #silence-hint.-error { color: $error; text-style: bold; }
    SilenceScreen Input { margin: 0; }
    """
    BINDINGS = [
        Binding("down", "choose(1)", "next alert", show=False),
        Binding("up", "choose(-1)", "previous alert", show=False),
        Binding("escape", "cancel", "cancel", show=False),
    ]

    def __init__(self, alerts: tuple[AlertView, ...], snapshot: Snapshot | None = None) -> None:
        super().__init__()
        self.alerts = alerts
        self.snapshot = snapshot  # for the values' units
        unmuted = [i for i, a in enumerate(alerts) if a.state == "firing" and not a.silenced]
        self.index = unmuted[0] if unmuted else 0

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Silence an alert"
            yield Static(self._list(), id="silence-alerts")
            yield Input(placeholder="comment (required): why, who is on it", id="silence-comment")
            yield Input(value=DEFAULT_DURATION, placeholder="for: 30m, 2h, 1d", id="silence-for")
            yield Static("up/down: alert · tab: next field · enter: silence · escape: cancel", id="silence-hint")

    def on_mount(self) -> None:
        self.query_one("#silence-comment", Input).focus()

    @property
    def chosen(self) -> AlertView:
        return self.alerts[self.index]

    def _list(self) -> Content:
        parts: list[str | tuple[str, str]] = []
        for i, a in enumerate(self.alerts):
            mark = "›" if i == self.index else " "
            muted = f"  (muted: {a.silenced_by})" if a.silenced else ""
            text = fit(f"{a.name}  {a.series} {alert_value(a, self.snapshot)}{muted}", 56)
            style = "reverse" if i == self.index else ""
            parts += [f"{mark} ", (f"{a.state.upper():<8}", SEVERITY_STYLES.get(a.severity, "")),
                      (text, style), "\n"]
        return Content.assemble(*parts[:-1])

    def action_choose(self, step: int) -> None:
        self.index = min(len(self.alerts) - 1, max(0, self.index + step))
        self.query_one("#silence-alerts", Static).update(self._list())

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        comment = self.query_one("#silence-comment", Input).value.strip()
        duration = self.query_one("#silence-for", Input).value.strip() or DEFAULT_DURATION
        args = {"rule": self.chosen.name, "comment": comment, "duration": duration}
        try:  # the engine's own check, said here before the engine would refuse it
            parse_request(args, {self.chosen.name})
        except ValueError as exc:
            hint = self.query_one("#silence-hint", Static)
            hint.update(str(exc))
            hint.add_class("-error")
            return
        self.dismiss(args)


def silence_screen(snapshot: Snapshot | None) -> SilenceScreen | str:
    """The silence modal, or why there is nothing to silence (for ActionSpec.dialog)."""
    alerts = tuple(a for a in (snapshot.alerts if snapshot is not None else ()) if a.state in CHOOSABLE)
    if not alerts:
        return "no firing, pending or no-data alert to silence"
    return SilenceScreen(alerts, snapshot)
