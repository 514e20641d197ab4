"""The rollout timeline (`o`, live and in review): pick a recorded rollout, read its stages and every
decision with its explanation, the audit rows (who, when, from where, why) and the metrics around
each decision; in review, enter on a decision moves the time cursor there.

Keys: up/down choose, tab moves between the rollout list and its decisions, enter jumps,
`q` or escape closes. Reading runs in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from console.rollout_text import STATUS_STYLES
from engine.history.cursor import format_time
from engine.history.db import HistoryDB
from engine.history.runs import Run
from engine.history.story import Decision, Story, rollouts, story
from engine.units import format_value


def rollout_label(row: dict[str, Any]) -> str:
    ended = f" → {format_time(row['ended'], with_date=False)}" if row.get("ended") else ""
    return f"#{row['id']} {row['service']} · {format_time(row['started'] or 0)}{ended} · {row['status']}"


def decision_label(d: Decision) -> Content:
    who = "automatic" if d.actor == "engine" else d.actor
    return Content.assemble(
        (format_time(d.t, with_date=False), "bold"), f" {d.weight:>3}% ",
        (f"{d.to_status:<22}", STATUS_STYLES.get(d.to_status, "")), f" {who}: {d.reason}")


def detail_text(d: Decision) -> str:
    lines = [f"{format_time(d.t)} · stage {d.stage} at {d.weight}% · {d.from_status} → {d.to_status}",
             f"why: {d.reason}"]
    if d.audit is not None:
        a = d.audit
        who = a["user"] + (f"@{a['address']}" if a.get("address") else "")
        lines.append(f"audit: {format_time(a['t'])} {who} ({a['origin']}) {a['action']} → "
                     f"{'ok' if a['ok'] else 'refused/failed'}: {a['result']}")
    for name, m in d.metrics.items():
        if isinstance(m, dict) and "value" in m:
            lines.append(f"judged: {name} {format_value(name, m.get('value'))} / limit {format_value(name, m.get('limit'))}"
                         f" ({m.get('state')}, {m.get('consecutive')} in a row, {m.get('total')} total)")
    for a in d.around:
        metric = a.series.rsplit("/", 1)[-1]
        lines.append(f"around: {a.series} minute before {format_value(metric, a.before)}"
                     f" · minute after {format_value(metric, a.after)}")
    return "\n".join(lines)


class RolloutTimelineScreen(ModalScreen[float | None]):
    DEFAULT_CSS = """
    RolloutTimelineScreen { align: center middle; }
    RolloutTimelineScreen > Vertical { width: 95%; height: 92%; border: round $primary; background: $surface; }
    RolloutTimelineScreen #rollout-list { height: 6; }
    RolloutTimelineScreen #rollout-decisions { height: 1fr; }
    RolloutTimelineScreen #rollout-detail-box { height: 10; border-top: solid $primary 50%; }
    RolloutTimelineScreen #rollout-stages { height: auto; color: $text-muted; }
    """
    BINDINGS = [Binding("q,escape", "close", "close")]

    def __init__(self, db: HistoryDB, runs: Sequence[Run], cursor: float, *, jumps: bool = True) -> None:
        """`jumps`: enter on a decision moves review's time cursor there (the screen's result);
        the live console has no cursor, so there enter only shows the decision."""
        super().__init__()
        self.db, self.runs, self.cursor, self.jumps = db, runs, cursor, jumps
        self.rows: list[dict[str, Any]] = []
        self.story: Story | None = None

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Rollouts"
            box.border_subtitle = "up/down: choose · tab: list/decisions · enter: " + ("go there" if self.jumps else "show") \
                + " · q / escape: close"
            yield OptionList(id="rollout-list")
            yield Static("", id="rollout-stages")
            yield OptionList(id="rollout-decisions")
            with VerticalScroll(id="rollout-detail-box"):
                yield Static("", id="rollout-detail")

    def on_mount(self) -> None:
        self.rows = rollouts(self.db)
        listing = self.query_one("#rollout-list", OptionList)
        if not self.rows:
            listing.add_option(Option("no rollout was recorded in this history", disabled=True))
            return
        listing.add_options([Option(rollout_label(r), id=str(r["id"])) for r in self.rows])
        # The rollout that was live at the cursor (or the newest before it) first.
        index = max((i for i, r in enumerate(self.rows) if (r["started"] or 0) <= self.cursor), default=0)
        listing.highlighted = index
        listing.focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_list.id == "rollout-list" and event.option.id is not None:
            self._load(int(event.option.id))
        elif event.option_list.id == "rollout-decisions" and self.story is not None:
            index = event.option_index
            if 0 <= index < len(self.story.decisions):
                self.query_one("#rollout-detail", Static).update(Content(detail_text(self.story.decisions[index])))

    @work(thread=True, exclusive=True, group="rollout-story", exit_on_error=False)
    def _load(self, rollout_id: int) -> None:
        try:
            told = story(self.db, self.runs, rollout_id)
        except Exception as exc:  # a damaged file: say so in the screen
            self.app.call_from_thread(self.query_one("#rollout-detail", Static).update, f"cannot read: {exc}")
            return
        self.app.call_from_thread(self._show, told)

    def _show(self, told: Story) -> None:
        self.story = told
        stages = " → ".join(f"{w}% {format_time(t, with_date=False)}" for _, w, t in told.stages)
        self.query_one("#rollout-stages", Static).update(
            Content(f"stages: {stages}" if stages else "no transitions recorded") )
        decisions = self.query_one("#rollout-decisions", OptionList)
        decisions.clear_options()
        decisions.add_options([Option(decision_label(d)) for d in told.decisions])
        if told.decisions:
            decisions.highlighted = 0
            self.query_one("#rollout-detail", Static).update(Content(detail_text(told.decisions[0])))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option_list.id == "rollout-decisions" and self.story is not None and self.jumps:
            self.dismiss(self.story.decisions[event.option_index].t)
        elif event.option_list.id == "rollout-list":
            self.query_one("#rollout-decisions", OptionList).focus()

    def action_close(self) -> None:
        self.dismiss(None)
