"""The rollout verbs, declared once: the one table the other surfaces are built from.

    state machine      engine/canary/statemachine.py: which verbs each status allows, refusals in `words`
    engine commands    engine/canary/component.py registers `spec.command` for every row
    console            console/actions.py: key bindings, the `?` help screen, the command palette,
                       the read-only refusal (`doing`) and the one confirmation dialog (`confirm`)
    shell              console/cli_remote.py: `opsconsole rollout <cli> [--<flag>] [--yes]`

A row added here is a key, a palette entry, a help line and a CLI subcommand (or flag) with no other
change; the engine still needs the verb's handler and its place in statemachine.VERBS (a test checks
that every Verb has both). Here, not in engine/canary/: that package loads the config schema
(pydantic), and `opsconsole rollout status` must not (tests/test_rollout_from_shell.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Verb(StrEnum):
    START = "start"
    PROMOTE = "promote"
    PROMOTE_FULL = "promote_full"
    PAUSE = "pause"
    RESUME = "resume"
    FREEZE = "freeze"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class VerbSpec:
    verb: Verb
    key: str  # the console's key (a Textual key name)
    label: str  # the key's line in the footer, the help screen and the palette
    help: str  # the CLI's help for its subcommand or flag
    words: str  # the verb in a sentence: "cannot roll back: ...", "y: roll back now"
    doing: str  # what a refused verb would have done: "read-only: rolling back is disabled"
    confirm: bool = False  # changes live traffic at once: the console asks, the CLI asks or wants --yes
    footer: bool = False  # shown in the footer (every verb is in the help screen and the palette)
    cli: str = ""  # the CLI subcommand; "" = the verb itself
    flag: str = ""  # a flag of that subcommand instead of one of its own: promote --full

    @property
    def command(self) -> str:
        """The engine command: "rollout.rollback"."""
        return f"rollout.{self.verb}"

    @property
    def action_id(self) -> str:
        """The console's action and binding id (what a user keymap remaps): "rollout_rollback"."""
        return f"rollout_{self.verb}"

    @property
    def subcommand(self) -> str:
        return self.cli or str(self.verb)


VERB_SPECS: tuple[VerbSpec, ...] = (
    VerbSpec(Verb.START, "S", "start rollout", "start a rollout", "start", "starting a rollout"),
    VerbSpec(Verb.PROMOTE, "P", "promote", "promote to the next stage", "promote", "promoting", footer=True),
    VerbSpec(Verb.PROMOTE_FULL, "G", "promote to 100%", "straight to 100%", "promote to 100%",
             "promoting to 100%", confirm=True, cli="promote", flag="full"),
    VerbSpec(Verb.PAUSE, "H", "hold rollout", "hold at the current stage", "pause", "holding the rollout"),
    VerbSpec(Verb.RESUME, "C", "continue rollout", "continue after a pause", "resume", "continuing the rollout"),
    VerbSpec(Verb.FREEZE, "F", "freeze rollout", "hold until unfrozen", "freeze", "freezing the rollout"),
    VerbSpec(Verb.ROLLBACK, "R", "roll back", "send all traffic back to the baseline", "roll back", "rolling back",
             confirm=True, footer=True),
)
BY_VERB: dict[Verb, VerbSpec] = {spec.verb: spec for spec in VERB_SPECS}
