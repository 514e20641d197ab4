"""The Textual app: a header line, six panels, a footer. It renders Snapshots pulled from a
SnapshotSource and sends Commands through `source.submit()`; it knows nothing else of the engine.

Refresh model (CONVENTIONS 5-7):
- a one-shot timer pulls `source.snapshot()` (cheap by contract: a ready, immutable object), applies
  it inside `batch_update()`, then re-arms: cycles never overlap, however slow a frame is;
- while a modal screen is on top, snapshots are still pulled (commands need the current state) but
  not applied: the operator is reading the modal, and repainting hidden panels costs bytes. Closing
  one of our modals applies the latest snapshot at once;
- each panel derives a hashable view and repaints only the lines that changed.
Commands never block the UI loop: the future is awaited in an async worker via `wrap_future`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import events
from textual.app import App, ComposeResult
from textual.containers import ScrollableContainer
from textual.driver import Driver
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from console.actions import BY_ID, DOING, ActionSpec, ActionsProvider, bindings, refusal, write_refusal
from console.compact import is_compact
from console.compositor import DirtyRowsCompositor
from console.header import HeaderBar
from console.panels.base import Panel
from console.panels.errors import ErrorsPanel
from console.panels.gaps import GapsPanel
from console.panels.health import AlertNews, HealthPanel
from console.panels.memory import MemoryPanel
from console.panels.rollout import RolloutPanel
from console.panels.throughput import ThroughputPanel
from console.screens.chart import ChartProvider
from console.screens.confirm import ConfirmScreen, confirmation
from console.screens.help import HelpScreen
from console.symbols import toast_label
from console.themes import DEFAULT_THEME, load_themes, next_theme
from engine.cadence import seconds_to_tick
from engine.commands import Command, CommandResult
from engine.snapshot import SilenceView, Snapshot, SnapshotSource

if TYPE_CHECKING:
    from engine.history.opener import OpenedHistory
    from engine.history.runs import Run

log = logging.getLogger(__name__)

COMMAND_TIMEOUT = 15.0  # seconds before an unanswered command is reported as such
PULL_AFTER_PUBLISH = 0.05  # seconds after the grid's tick: the engine's publish on it takes a few ms


class SourceStarted(Message):
    """The console's own engine has started (posted from its starting thread)."""


class PanelArea(ScrollableContainer):
    """The panels' container: a terminal resize that crosses the compact layout's bounds switches it.
    (The App's own Resize handler runs before the App's size is updated; the screen's children see it.)"""

    def on_resize(self, _event: events.Resize) -> None:
        arrange = getattr(self.app, "_arrange", None)
        if arrange is not None:
            arrange()


class OpsConsoleApp(App[None]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere still find it
    BINDINGS = bindings()
    COMMANDS = App.COMMANDS | {ActionsProvider, ChartProvider}
    # Screen classes by width: 3x2 grid when wide, 2x3 at 80 columns, one scrolling column below.
    reviewing: ClassVar[bool] = False  # ReviewApp: a recorded history, never changed
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (70, "-medium"), (120, "-wide")]

    def __init__(
        self,
        source: SnapshotSource,
        *,
        title: str = "opsconsole",
        refresh: float = 1.0,
        theme: str = DEFAULT_THEME,
        read_only: bool = False,
        bell: bool = False,
        low_bandwidth: bool = False,
        starter: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.set_class(self.no_color, "-mono")  # NO_COLOR (--color-system mono): app.tcss marks by style, not colour
        self.source = source
        self.title = title
        self.refresh_interval = refresh
        self.read_only = read_only
        self.bell_on_alert = bell
        # Slow links: panels hold sparklines for 5 s, uncoloured, the header's clock shows
        # minutes (panels/base.py, header.py). Only changed cells are sent in either mode.
        self.low_bandwidth = low_bandwidth
        self.snapshot: Snapshot | None = None
        self.exit_reason: str | None = None
        self.header = HeaderBar()
        self.panels: tuple[Panel, ...] = (
            ThroughputPanel(id="throughput"),
            MemoryPanel(id="memory"),
            ErrorsPanel(id="errors"),
            GapsPanel(id="gaps"),
            HealthPanel(id="health"),
            RolloutPanel(id="rollout"),
        )
        self.expanded: Panel = self.panels[0]  # the compact layout's full-size panel: the last focused
        self._ui_loop: asyncio.AbstractEventLoop | None = None
        self.notices: deque[tuple[float, str, str]] = deque(maxlen=100)
        self._timer: Timer | None = None
        self._last_notice = ""
        self.alert_news = AlertNews()
        self._source_failing = False
        self._theme_problems: list[str] = []
        themes = load_themes(problems=self._theme_problems)
        for t in themes:
            self.register_theme(t)
        self.theme_names = [t.name for t in themes] or [self.theme]
        self._theme_notice = self._choose_theme(theme)
        # The console's own engine is started behind the first frame (the panels show STARTING):
        # its start (store, lock, components) was ~0.2 s of a first frame that waited for it.
        # cli.py joins `start_thread` before stopping the engine and reports `start_error`.
        self._starter = starter
        self.start_thread: threading.Thread | None = None
        self.start_error: BaseException | None = None

    def get_driver_class(self) -> type[Driver]:
        """Textual's Linux driver, unless TEXTUAL_DRIVER names another: one that survives the
        terminal hanging up (console/driver.py)."""
        default = super().get_driver_class()
        if default.__module__ == "textual.drivers.linux_driver":
            from console.driver import HangupSafeLinuxDriver

            return HangupSafeLinuxDriver
        return default

    # ----------------------------------------------------------------- layout
    def get_default_screen(self) -> Screen[None]:
        """Textual's default screen, with a compositor that repaints only the rows that changed."""
        screen: Screen[None] = Screen(id="_default")
        screen._compositor = DirtyRowsCompositor()
        return screen

    def compose(self) -> ComposeResult:
        yield self.header
        with PanelArea(id="panels", can_focus=False):
            yield from self.panels
        yield Footer()

    def on_mount(self) -> None:
        self._ui_loop = asyncio.get_running_loop()
        # Give the screen its breakpoint class now: set later (on the first Resize) it would cost a
        # second full paint (~40 KB at 120x40) right after the first.
        width = self.size.width
        for minimum, name in reversed(self.HORIZONTAL_BREAKPOINTS):
            if width >= minimum:
                self.screen.add_class(name)
                break
        self._arrange()
        self._show_write_keys()
        self.app_resume_signal.subscribe(self, self._repaint_after_resume)
        for problem in self._theme_problems:
            self.say(f"theme file skipped: {problem}", severity="error", timeout=10)
        if self._theme_notice:
            self.say(self._theme_notice, severity="warning", timeout=10)
        self.refresh_now()
        if self._starter is not None:
            self.call_after_refresh(self._start_source)

    def _start_source(self) -> None:
        """After the first frame: start the engine in a thread; a start that fails ends the
        console, and cli.py prints why (as before the terminal UI opened)."""
        starter, self._starter = self._starter, None
        if starter is None:
            return

        def run() -> None:
            try:
                starter()
            except BaseException as exc:  # reported by cli.py once the terminal is restored
                self.start_error = exc
                self.request_exit("the engine could not start")
                return
            self.post_message(SourceStarted())  # thread-safe: RUNNING at once, not a period later

        self.start_thread = threading.Thread(target=run, name="engine-start", daemon=True)
        self.start_thread.start()

    def on_source_started(self, _message: SourceStarted) -> None:
        self.refresh_now()

    @property
    def compact(self) -> bool:
        """The small-terminal layout (console/compact.py) is on."""
        return self.has_class("-compact")

    def _arrange(self) -> None:
        """Compact at <= 90 columns or <= 30 rows: the expanded panel full size, the others summarized."""
        compact = is_compact(self.size.width, self.size.height)
        self.set_class(compact, "-compact")
        for panel in self.panels:
            summarized = compact and panel is not self.expanded
            if panel.summarized != summarized:
                panel.summarized = summarized
                panel.set_class(summarized, "-summary")
                panel.redraw()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Tab (or a click) on a panel expands it in the compact layout."""
        if event.widget in self.panels and event.widget is not self.expanded:
            self.expanded = event.widget  # type: ignore[assignment]  (a Panel: checked just above)
            self._arrange()

    def _repaint_after_resume(self, _app: object) -> None:
        """Back from ctrl+z (`fg`, SIGCONT): the driver re-enters a blank alternate screen, but
        Textual repaints only what changed meanwhile, so borders and the footer stayed missing
        until a key. Paint every cell of every screen on the stack again."""
        for screen in self.screen_stack:
            screen.refresh(layout=True, repaint=True)

    def _choose_theme(self, name: str) -> str | None:
        """Use `name` if registered; else the default, and say so (returned as a notice)."""
        if name in self.available_themes:
            self.theme = name
            return None
        fallback = DEFAULT_THEME if DEFAULT_THEME in self.available_themes else self.theme
        self.theme = fallback
        return f"unknown theme {name!r}: using {fallback}. Available: {', '.join(self.theme_names)}"

    # ---------------------------------------------------------------- refresh
    @property
    def is_read_only(self) -> bool:
        return self.read_only or (self.snapshot is not None and self.snapshot.read_only)

    def _show_write_keys(self) -> None:
        """In read-only mode the verbs that would change the engine are off the footer; their keys
        stay bound, so pressing one still says why (action_op). (check_action cannot do this:
        Textual runs no action it disables.)"""
        hidden = self.is_read_only
        for key, bound in self._bindings.key_to_bindings.items():
            self._bindings.key_to_bindings[key] = [
                replace(b, show=not hidden and BY_ID[b.id].footer) if b.id in BY_ID and BY_ID[b.id].needs_write else b
                for b in bound
            ]
        self.refresh_bindings()

    def refresh_now(self) -> None:
        """Pull and apply now, and restart the refresh period (e.g. after a command's result)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self._tick()

    def _tick(self) -> None:
        try:
            self._pull_and_apply()
        finally:  # re-armed only after the cycle finished: no overlap
            self._timer = self.set_timer(self._until_next_pull(), self._tick)

    def _until_next_pull(self) -> float:
        """Seconds to the next multiple of the refresh period on the monotonic clock, plus
        PULL_AFTER_PUBLISH: the engine publishes its snapshot on the same grid (engine/cadence.py,
        engine.snapshot_interval), so each pull gets one built moments before, not up to a
        publishing period old, and the engine builds no snapshot that no one reads."""
        return seconds_to_tick(self.refresh_interval) + PULL_AFTER_PUBLISH

    def _pull_and_apply(self) -> None:
        try:
            snapshot = self.source.snapshot()
        except Exception as exc:  # another part's bug must not kill the console: show it, keep going
            log.exception("snapshot source failed")
            if not self._source_failing:
                self.say(f"snapshot source failed: {exc!r} — showing the last good data", severity="error")
            self._source_failing = True
            return
        self._source_failing = False
        was_read_only = self.is_read_only
        self.snapshot = snapshot
        if self.is_read_only != was_read_only:  # an attached engine that runs read-only: footer again
            self._show_write_keys()
        if len(self.screen_stack) > 1:  # a modal is on top: applied when it closes
            return
        self.apply_snapshot(snapshot)

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        with self.batch_update():
            self.header.apply(snapshot, self.title, self.read_only)
            for panel in self.panels:
                panel.apply(snapshot)
        self._announce(snapshot)

    def _announce(self, snapshot: Snapshot) -> None:
        """The engine's one-line notice as a toast when it changes; a toast per alert that starts
        firing, and the bell (if configured) when one of them is critical."""
        if snapshot.notice and snapshot.notice != self._last_notice:
            self.say(snapshot.notice, title="engine", severity="warning", timeout=10)
        self._last_notice = snapshot.notice
        news = self.alert_news.update(snapshot)
        for item in news:
            self.say(item.text, title=item.title, severity="error" if item.critical else "warning", timeout=10)
        if self.bell_on_alert and any(item.critical for item in news):
            self.bell()

    def say(self, text: str, *, title: str = "", severity: SeverityLevel = "information",
            timeout: float | None = None) -> None:
        """A toast (text taken literally: engine messages may contain brackets) that is also kept
        in `notices`, so nothing the operator was told is lost when the toast fades."""
        self.notices.append((time.time(), severity, f"{title}: {text}" if title else text))
        log.log(logging.WARNING if severity != "information" else logging.INFO, "notice: %s", text)
        label = toast_label(severity, title)  # the severity as a symbol too: the toast's colour is not enough
        if self.compact:  # one line over the footer (app.tcss): the title goes in front of the text
            text, label = f"{label}: {text}" if label else text, ""
        self.notify(text, title=label, severity=severity, timeout=timeout, markup=False)

    def open_modal(self, screen: Screen[object]) -> None:
        """Push one of our modals; the latest snapshot is applied as soon as it closes."""
        self.push_screen(screen, callback=lambda _result: self.refresh_now())

    # ---------------------------------------------------------------- actions
    async def action_op(self, action_id: str) -> None:
        """Every registry key lands here: refuse, confirm, send, or run the local action."""
        spec = BY_ID[action_id]
        why = refusal(spec, self.is_read_only)
        if why:
            self.say(why, severity="warning")
            return
        name = spec.command_name(self.snapshot)
        if name is None:
            await self.run_action(spec.id, self.query_one(f"#{spec.panel}") if spec.panel else None)
        elif spec.dialog is not None or spec.destructive:  # the verb's own dialog, or the one confirmation
            screen = (spec.dialog(self.snapshot) if spec.dialog
                      else confirmation(name, spec.description, spec.verb, self.snapshot))
            if isinstance(screen, str):  # not possible now: say why instead of asking
                self.say(f"{spec.description}: {screen}", severity="warning")
                return
            self.push_screen(screen, callback=lambda args: self._confirmed_with(args, spec, name))
        else:
            self.send_command(Command(name))

    def _confirmed_with(self, args: dict[str, object] | None, spec: ActionSpec, name: str) -> None:
        if args is None:
            self.say(f"{spec.description}: cancelled")
            self.refresh_now()
            return
        # Not refreshed now: applying a snapshot to every panel holds the GIL while the engine thread
        # sends the verb's request (bench/reaction.py). The result refreshes, the timer meanwhile.
        self.send_command(Command(name, dict(args)))

    def send_command(self, command: Command) -> None:
        try:
            future = self.source.submit(command)
        except Exception as exc:  # a source that cannot even take the command: say so
            log.exception("submit %s failed", command.name)
            self.say(f"{command.name}: could not be sent: {exc}", severity="error")
            return
        self.run_worker(self._await_result(command, future), group="commands", exit_on_error=False)

    async def _await_result(self, command: Command, future: concurrent.futures.Future[CommandResult]) -> None:
        wrapped = asyncio.wrap_future(future)
        done, _ = await asyncio.wait({wrapped}, timeout=COMMAND_TIMEOUT)  # no cancel: the engine owns it
        if not done:
            self.say(f"{command.name}: no answer from the engine after {COMMAND_TIMEOUT:.0f}s; still waiting",
                     severity="warning")
            await wrapped  # a long verb (a backup of a large history) still gets its result toast
        try:
            result = wrapped.result()
        except Exception as exc:
            log.exception("command %s failed", command.name)
            self.say(f"{command.name} failed: {exc}", severity="error")
            return
        self.say(result.message or command.name, title=command.name,
                    severity="information" if result.ok else "error")
        self.refresh_now()  # show the new state (e.g. PAUSED) without waiting a full period

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """The palette's "Screenshot" (and Textual's screenshot key): an SVG in a private file,
        and where it is (console/screenshot.py)."""
        from console.screenshot import save_private

        try:
            saved = save_private(self.export_screenshot(), Path(path) if path else None)
        except OSError as exc:
            self.say(f"screenshot not saved: {exc}", severity="error")
            return None
        self.say(f"screenshot saved to {saved} (readable only by you)", title="screenshot", timeout=10)
        return None

    def action_help(self) -> None:
        self.open_modal(HelpScreen(self.is_read_only))

    def action_silences(self) -> None:
        from console.screens.silences import SilencesScreen

        self.push_screen(SilencesScreen(self.snapshot, refresh=self.refresh_interval), callback=self._lift_silence)

    def _lift_silence(self, silence: SilenceView | None) -> None:
        """The silences screen chose one to lift early: confirm, then `alerts.unsilence`."""
        self.refresh_now()
        if silence is None:
            return
        why = write_refusal(DOING["lift_silence"], self.is_read_only, review=self.reviewing)
        if why:
            self.say(why, severity="warning")
            return
        others = sum(1 for s in (self.snapshot.silences if self.snapshot else ()) if s.rule == silence.rule) - 1
        question = (f"lift the silence on {silence.rule} ({silence.author}: {silence.comment}) now?"
                    + (f" The rule's {others} other silence(s) are lifted with it." if others > 0 else "")
                    + " Its alerts notify again.")
        self.push_screen(ConfirmScreen(question), callback=lambda args: self._confirmed_lift(args, silence))

    def _confirmed_lift(self, args: dict[str, object] | None, silence: SilenceView) -> None:
        if args is not None:
            self.send_command(Command("alerts.unsilence", {"rule": silence.rule}))
        else:
            self.say("lift silence: cancelled")
        self.refresh_now()

    # -------------------------------------------------------- history screens
    def history_file(self) -> Path | None:
        """The running engine's history file, which the event log and rollout timeline read
        alongside it; None, after saying why, when there is none to read."""
        path = getattr(self.source, "history_path", None)
        if path is None:
            self.say("this console's source keeps no history file to read", severity="warning")
            return None
        if not Path(path).is_file():
            self.say(f"no history to read yet: {path} does not exist (the engine creates it when it starts)",
                     severity="warning")
            return None
        return Path(path)

    def action_events(self) -> None:
        from console.screens.event_log import EventLogScreen

        path = self.history_file()
        if path is not None:
            self.open_modal(EventLogScreen(path, refresh=self.refresh_interval))

    def action_rollouts(self) -> None:
        path = self.history_file()
        if path is not None:
            self.run_worker(partial(self._read_rollouts, path), thread=True, group="rollouts", exit_on_error=False)

    def _read_rollouts(self, path: Path) -> None:
        from engine.history.opener import HistoryError, open_history
        from engine.history.runs import find_runs
        from engine.store import StoreError

        try:
            opened = open_history(path)
        except (HistoryError, StoreError) as exc:
            self.call_from_thread(self.say, f"rollout timeline: {exc}", severity="error")
            return
        try:
            found = opened.db.time_range()
            runs = find_runs(opened.db, found[0]) if found else []
        except StoreError as exc:
            opened.close()
            self.call_from_thread(self.say, f"rollout timeline: {exc}", severity="error")
            return
        self.call_from_thread(self._show_rollouts, opened, runs)

    def action_show_config(self) -> None:
        from console.screens.config_view import ConfigScreen, from_loaded

        loaded = getattr(self.source, "loaded", None)  # the console's own engine
        if loaded is not None:
            self.open_modal(ConfigScreen(from_loaded(loaded)))
            return
        path = self.history_file()  # attached: the config the engine's run recorded
        if path is not None:
            self.run_worker(partial(self._read_recorded_config, path), thread=True, group="config",
                            exit_on_error=False)

    def _read_recorded_config(self, path: Path) -> None:
        from engine.history.opener import HistoryError, open_history
        from engine.history.runs import find_runs
        from engine.store import StoreError

        try:
            opened = open_history(path)
            try:
                found = opened.db.time_range()
                runs = find_runs(opened.db, found[0]) if found else []
            finally:
                opened.close()
        except (HistoryError, StoreError) as exc:
            self.call_from_thread(self.say, f"running config: {exc}", severity="error")
            return
        if not runs:
            self.call_from_thread(self.say, f"running config: {path} records no engine run yet", severity="warning")
            return
        self.call_from_thread(self.show_run_config, runs[-1], "the engine's current run")

    def show_run_config(self, run: Run, which: str) -> None:
        """The config a run recorded in the history (attach, review)."""
        from console.render import clock
        from console.screens.config_view import ConfigScreen, from_record

        if run.config is None:
            self.say(f"running config: {run.config_problem}", severity="warning")
            return
        origin = f"{run.config_name or 'a config'}" + (f", profile {run.profile}" if run.profile else "")
        origin += f", as recorded by {which} (started {clock(run.started)})"
        self.open_modal(ConfigScreen(from_record(run.config, origin)))

    def _show_rollouts(self, opened: OpenedHistory, runs: list[Run]) -> None:
        from console.screens.rollout_timeline import RolloutTimelineScreen

        def closed(_result: object) -> None:
            opened.close()
            self.refresh_now()

        self.push_screen(RolloutTimelineScreen(opened.db, runs, time.time(), jumps=False), callback=closed)

    def action_cycle_theme(self) -> None:
        self.theme = next_theme(self.theme, self.theme_names)
        self.say(f"theme: {self.theme}", timeout=2)

    # ------------------------------------------------------------ lifecycle
    def request_exit(self, reason: str) -> None:
        """Exit promptly; safe from any thread and from a signal handler.

        `call_soon_threadsafe` also wakes the loop's selector, so the exit does not wait for the
        next timer or keypress (a plain `exit()` from a signal handler in the UI thread would).
        """
        self.exit_reason = reason
        log.info("console exit requested: %s", reason)
        loop = self._ui_loop
        if loop is None or loop.is_closed():
            self.exit()  # not running (yet, or any more): just mark the exit
            return
        try:
            loop.call_soon_threadsafe(self.exit)
        except RuntimeError:  # the loop closed between the check and the call: already exiting
            log.info("console loop already closed while exiting (%s)", reason)
