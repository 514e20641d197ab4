"""The rollout verbs, declared once. The state machine's refusals, the canary's command registration,
the console's keys, help screen, palette and confirmation (console/actions.py) and the CLI's
subcommands, flags and --yes (console/cli_remote.py) are built from VERB_SPECS; the engine still needs
a handler and a place in statemachine.VERBS per verb (tests/console/test_verb_table.py checks all of it).
Not in engine/canary/: that package loads the config schema, which `rollout status` must not.
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
