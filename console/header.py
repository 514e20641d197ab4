"""One header line, replacing Textual's Header (whose clock repaints the whole bar):

    opsconsole · RUNNING · ./opsconsole.yaml [prod] · checkout 10% (2/4) running · alerts: 1 +2 pending · health: WARN · 14:02:07

The config's name says which file the console runs and how it was found ("prod.yaml" for
--config, "./opsconsole.yaml", "~/.config/opsconsole/config.yaml", "built-in demo": the CLI's
title, from engine/config/lookup.py); attached and review consoles show the engine's own name.

`health:` is the worst status among the checks that have a result; a check without one yet
(UNKNOWN: a backup with `every: 0` before its first run, a check that has not answered) does not
hide that the others are OK, and is counted beside it, muted: `health: OK +1 unknown`. Only when
no check has a result is the word UNKNOWN. The same order as Spring Boot's health aggregator
(DOWN, OUT_OF_SERVICE, UP, UNKNOWN: an unknown part never outranks a known one); the count keeps
the unknown ones visible instead of silently dropped.

The clock is its own 8-cell widget so that, in a quiet second, the header costs ~20 bytes: a
PanelBody, which repaints only the digits that changed and renders them without Textual's Content
pipeline (a Static re-rendered its 9 cells for ~0.45 ms every second); in the low-bandwidth mode
it shows hours and minutes (`LOW-BW` beside the state says the mode is on).
The text before it changes only when the state, rollout or alert count does.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from console.panels.base import MUTED, STATUS_STYLES, PanelBody, line
from console.panels.health import alerts_span, counts
from console.render import clock
from engine.health.state import UNKNOWN, overall
from engine.snapshot import EngineState, HealthView, RolloutView, Snapshot, SourceMode

STATE_STYLES = {
    "RUNNING": "$success",
    "PAUSED": "$warning",
    "READ-ONLY": "$warning",
    "REVIEW": "$accent",
    "STOPPING": "$warning",
    "STOPPED": "$error",
    "LOW-BW": "$accent",
}
SEP = " · "
CLOCK_W = 9  # " 14:02:07" (DEFAULT_CSS)
DEFAULT_TITLE = "opsconsole"  # OpsConsoleApp's title when nobody named the config


def state_words(snapshot: Snapshot, read_only: bool) -> list[str]:
    """REVIEW for history; otherwise the engine state, plus READ-ONLY if commands are refused."""
    if snapshot.mode is SourceMode.REVIEW:
        return ["REVIEW"]
    words = ["PAUSED" if snapshot.state is EngineState.PAUSED else snapshot.state.value.upper()]
    if read_only or snapshot.read_only:
        words.append("READ-ONLY")
    return words


def rollout_line(r: RolloutView | None) -> str:
    if r is None:
        return "no rollout"
    return f"{r.service} {r.weight}% ({r.stage_index + 1}/{len(r.stages)}) {r.status}"


def firing(snapshot: Snapshot) -> int:
    return counts(snapshot)[0]


def health_parts(views: tuple[HealthView, ...]) -> list[tuple[str, str]]:
    """`health: WARN` (the worst check with a result) and `+2 unknown` for those without; [] when
    no check is configured."""
    if not views:
        return []
    word = overall(views)
    unknown = sum(v.status == UNKNOWN for v in views)
    parts = [(f"health: {word}", STATUS_STYLES.get(word, ""))]
    if word != UNKNOWN and unknown:
        parts.append((f" +{unknown} unknown", MUTED))
    return parts


def config_name(snapshot: Snapshot, title: str) -> str:
    """The CLI's title says how the config was found; the engine only knows the file's name."""
    if snapshot.mode is SourceMode.LIVE and title and title != DEFAULT_TITLE:
        return title
    return snapshot.config_name or title


def header_content(snapshot: Snapshot | None, title: str, read_only: bool, width: int = 0,
                   low_bandwidth: bool = False) -> Content:
    """The header for `width` cells (0: any width). When the whole line does not fit, the config's
    name goes first, then the word opsconsole, then the rest is shortened with health moved up
    beside the state: health and the rollout's state stay visible at 80 columns. LOW-BW beside
    the state says the low-bandwidth mode is on (it is kept at every width)."""
    if snapshot is None:
        return Content.assemble(("opsconsole", "bold"), SEP, ("waiting for the first snapshot…", "$text-muted"))
    brand: list[str | tuple[str, str]] = [("opsconsole", "bold"), SEP]
    state: list[str | tuple[str, str]] = []
    for i, word in enumerate(state_words(snapshot, read_only) + ["LOW-BW"] * low_bandwidth):
        state += [SEP] * bool(i) + [(word, STATE_STYLES.get(word, ""))]
    name = config_name(snapshot, title)
    if snapshot.profile:
        name += f" [{snapshot.profile}]"
    health = health_parts(snapshot.health)
    alerts = alerts_span(snapshot)
    tail = [SEP, rollout_line(snapshot.rollout), SEP, alerts] + ([SEP, *health] if health else [])
    variants = [brand + state + [SEP, name] + tail, brand + state + tail, state + tail]
    if width:  # shorter wordings, health moved up beside the state
        alerts_text, alerts_style = alerts
        short_alerts = (alerts_text.replace("alerts: ", "alerts ").replace(" pending", "p"), alerts_style)
        for unknown in (" unknown", "?"):
            short_health = [(text.replace(" unknown", unknown), style) for text, style in health]
            variants.append(state + ([SEP, *short_health] if health else [])
                            + [SEP, short_rollout(snapshot.rollout), SEP, short_alerts])
    for parts in variants:
        content = Content.assemble(*parts)
        if not width or content.cell_length <= width:
            return content
    return content  # cropped with an ellipsis by the widget: the health and rollout words come first


def short_rollout(r: RolloutView | None) -> str:
    """`checkout 10% 2/4 running`: rollout_line without the brackets."""
    if r is None:
        return "no rollout"
    return f"{r.service} {r.weight}% {r.stage_index + 1}/{len(r.stages)} {r.status}"


class HeaderBar(Horizontal):
    DEFAULT_CSS = """
    HeaderBar { height: 1; dock: top; background: $panel; }
    HeaderBar > #header-main { width: 1fr; height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    HeaderBar > #header-clock { width: 9; height: 1; }  /* CLOCK_W */
    """

    def __init__(self) -> None:
        super().__init__()
        self.main = Static(header_content(None, "", False), id="header-main")
        self.clock = PanelBody(id="header-clock")
        self._main_key: tuple[object, ...] | None = None
        self._last: tuple[Snapshot, str, bool] | None = None  # to lay the text out again on a resize
        self._main_plain = ""
        self._clock_text = ""

    def compose(self) -> ComposeResult:
        yield self.main
        yield self.clock

    def apply(self, snapshot: Snapshot, title: str, read_only: bool) -> None:
        self._last = (snapshot, title, read_only)
        width = max(0, (self.size.width or self.app.size.width) - CLOCK_W)
        low_bandwidth = getattr(self.app, "low_bandwidth", False)
        content = header_content(snapshot, title, read_only, width, low_bandwidth)
        key = (content.plain, tuple(content.spans))
        if key != self._main_key:  # equal text and styles: send nothing
            self._main_key, self._main_plain = key, content.plain
            self.main.update(content, layout=False)  # fixed size: no reflow of the screen
        # The snapshot's own time: in review this is the moment being replayed, not now. Low
        # bandwidth: minutes only, so a quiet minute sends nothing for the clock.
        text = f" {clock(snapshot.taken_at)[:5 if low_bandwidth else 8]}"
        if text != self._clock_text:
            self._clock_text = text
            self.clock.set_lines((line(text),))

    def on_resize(self) -> None:
        if self._last is not None:
            self.apply(*self._last)

    @property
    def plain(self) -> str:
        """The whole line as shown, for tests."""
        return f"{self._main_plain}{SEP}{self._clock_text.strip()}"
