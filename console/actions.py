"""The one action registry. Every key the app answers to at the top level is declared here once,
and feeds three places: the app's BINDINGS (with `id=`, so a user keymap can remap them via
`App.set_keymap`), the `?` help screen, and the command palette (ctrl+p).

The rollout verbs are not written here: they are generated from engine/verbs.py's one table
(`verb_actions`), which also feeds the state machine and the CLI. Any other engine verb is one line.
`destructive` asks first, in the one confirmation dialog (console/screens/confirm.py); `dialog` is a
modal that collects the verb's arguments instead (silence); `needs_write` is refused in read-only
mode with a notice saying why. An action with `command=None` runs the app's own `action_<id>` method.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider

from console.screens.silence import silence_screen
from engine.snapshot import EngineState, Snapshot
from engine.verbs import VERB_SPECS, VerbSpec

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import ModalScreen

CommandName = str | Callable[[Snapshot | None], str]


@dataclass(frozen=True)
class ActionSpec:
    id: str  # also the binding id (keymaps) and, for local actions, the app's action name
    key: str  # Textual key name(s): "p", "question_mark", "ctrl+z"
    description: str
    group: str
    footer: bool = True
    destructive: bool = False
    needs_write: bool = False
    command: CommandName | None = None  # engine verb, or a function of the snapshot giving one
    # A modal collecting the verb's arguments (its result), or why not now.
    dialog: Callable[[Snapshot | None], ModalScreen[dict[str, Any] | None] | str] | None = None
    panel: str | None = None  # a verb on that panel's selection: runs the panel's action_<id>
    review: bool = False  # a review-mode key (console/review.py): bound only when reviewing a history
    verb: VerbSpec | None = None  # the rollout verb's row (engine/verbs.py) this action was made from

    def command_name(self, snapshot: Snapshot | None) -> str | None:
        if self.command is None or isinstance(self.command, str):
            return self.command
        return self.command(snapshot)


def pause_or_resume(snapshot: Snapshot | None) -> str:
    """`p` toggles: resume when the engine says it is paused, pause otherwise."""
    return "resume" if snapshot is not None and snapshot.state is EngineState.PAUSED else "pause"


def verb_actions(verbs: tuple[VerbSpec, ...] = VERB_SPECS) -> tuple[ActionSpec, ...]:
    """The registry's rows for the rollout verbs: key, label, footer and confirmation from the table."""
    return tuple(ActionSpec(v.action_id, v.key, v.label, "rollout", footer=v.footer, destructive=v.confirm,
                            needs_write=True, command=v.command, verb=v) for v in verbs)


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("pause", "p", "pause/resume", "engine", needs_write=True, command=pause_or_resume),
    ActionSpec("cycle_theme", "t", "theme", "view"),
    ActionSpec("help", "question_mark", "help", "app"),
    ActionSpec("suspend_process", "ctrl+z", "suspend to shell", "app", footer=False),
    ActionSpec("quit", "q", "quit", "app"),
    *verb_actions(),
    ActionSpec("alerts_silence", "s", "silence alert", "alerts", needs_write=True, command="alerts.silence", dialog=silence_screen),
    ActionSpec("toggle_target", "e", "enable/disable target", "collect", footer=False, needs_write=True, panel="gaps"),
    ActionSpec("backup", "b", "backup now", "history", needs_write=True, command="backup"),  # progress: Health "backup"
    ActionSpec("events", "l", "event log", "view"),
    ActionSpec("silences", "m", "silences", "alerts", footer=False),
    ActionSpec("show_config", "c", "running config", "view", footer=False),
    ActionSpec("rollouts", "o", "rollout timeline", "view"),
    # Review mode (opsconsole review FILE): the time cursor. Plain characters, so tmux passes them.
    ActionSpec("review_back", "left_square_bracket", "step back", "review", review=True),
    ActionSpec("review_forward", "right_square_bracket", "step forward", "review", review=True),
    ActionSpec("review_back_minute", "left_curly_bracket", "back 1 minute", "review", footer=False, review=True),
    ActionSpec("review_forward_minute", "right_curly_bracket", "forward 1 minute", "review", footer=False, review=True),
    ActionSpec("review_back_hour", "less_than_sign", "back 1 hour", "review", footer=False, review=True),
    ActionSpec("review_forward_hour", "greater_than_sign", "forward 1 hour", "review", footer=False, review=True),
    ActionSpec("review_next_event", "n", "next event", "review", review=True),
    ActionSpec("review_previous_event", "N", "previous event", "review", footer=False, review=True),
    ActionSpec("review_event_kind", "f", "event kind for n/N", "review", footer=False, review=True),
    ActionSpec("review_play", "space", "play/stop", "review", review=True),
    ActionSpec("review_speed", "x", "speed 1x/10x/60x", "review", footer=False, review=True),
    ActionSpec("review_goto", "g", "go to time", "review", review=True),
    ActionSpec("review_window", "z", "window: live/15m/1h/6h/24h/7d", "review", footer=False, review=True),
    ActionSpec("review_export", "E", "export window", "review", footer=False, review=True),
    ActionSpec("review_what_if", "w", "what-if", "review", footer=False, review=True),
)
BY_ID: dict[str, ActionSpec] = {spec.id: spec for spec in ACTIONS}


def bindings(actions: tuple[ActionSpec, ...] = ACTIONS, *, review: bool = False) -> list[Binding]:
    """The app's BINDINGS: every key dispatches through `App.action_op(id)`. Review keys only when
    reviewing; there the engine's verbs stay bound (to say why they are refused) but off the footer."""
    return [
        Binding(spec.key, f"op({spec.id!r})", spec.description,
                show=spec.footer and not (review and spec.needs_write), id=spec.id)
        for spec in actions
        if review or not spec.review
    ]


def shown(app: object) -> tuple[ActionSpec, ...]:
    """The actions of this app, for the help screen and the palette."""
    reviewing = getattr(app, "reviewing", False)
    return tuple(spec for spec in ACTIONS if reviewing or not spec.review)


# What a refused action would have done, in words: "read-only: rolling back is disabled".
DOING: dict[str, str] = {
    "pause": "pausing or resuming the engine", **{v.action_id: v.doing for v in VERB_SPECS},
    "alerts_silence": "silencing an alert", "toggle_target": "enabling or disabling a target",
    "backup": "backing up the history", "lift_silence": "lifting a silence",
}


def refusal(spec: ActionSpec, read_only: bool, *, review: bool = False) -> str | None:
    """Why this action cannot run now, or None if it can."""
    return write_refusal(DOING.get(spec.id, spec.description), read_only, review=review) if spec.needs_write else None


def write_refusal(doing: str, read_only: bool, *, review: bool = False) -> str | None:
    """Why something that changes the engine ("rolling back") cannot run now, or None if it can."""
    if review:
        return f"review mode: {doing} is disabled (a review never changes anything)"
    if read_only:
        return f"read-only: {doing} is disabled (started with --read-only)"
    return None


def key_display(app: App[object], spec: ActionSpec) -> str:
    """The key as the Footer shows it ("?" for question_mark, "^z" for ctrl+z)."""
    return app.get_key_display(Binding(spec.key, "", ""))


class ActionsProvider(Provider):
    """Command palette (ctrl+p): every registered action, by description."""

    def _label(self, spec: ActionSpec) -> str:
        return f"{spec.description} ({key_display(self.app, spec)})"

    def _run(self, spec: ActionSpec) -> Callable[[], object]:
        return partial(self.app.run_action, f"op({spec.id!r})")

    async def discover(self) -> Hits:
        for spec in shown(self.app):
            yield DiscoveryHit(self._label(spec), self._run(spec), help=spec.group)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for spec in shown(self.app):
            label = self._label(spec)
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), self._run(spec), help=spec.group)
