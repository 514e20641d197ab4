"""Which running engine a shell command (`rollout ...`, `attach`) means, in this order:

  1. `--history PATH`: the history database the engine writes (its store.path). Named after what
     the operator can see on disk and what `review`/`export` already take; the engine's control
     socket is derived from that path, so nothing else is read;
  2. the config found by the usual lookup (--config, $OPSCONSOLE_CONFIG, ./opsconsole.yaml,
     ~/.config/opsconsole/config.yaml): only its store.path (engine/config/storepath.py), so the
     engine's ${SECRET}s are never needed here;
  3. no config at all: the engine running for this user (engine/control/discover.py). Several
     are listed, and the operator picks one on a terminal or names it with --history. Sockets
     discovery would not talk to (another user's directory or listener) are reported, as warnings
     beside the engine found or in the "no engine" message.

Light on purpose: no pydantic, no Textual, no engine parts (`rollout status` answers in ~100 ms).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.control.discover import RunningEngine, discover, running_engines
from engine.control.paths import db_key, socket_dirs

EXIT_RUNTIME, EXIT_USAGE = 1, 2


class TargetError(Exception):
    """No engine could be chosen; str() says why and what to do, `exit_code` is 1 or 2."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Target:
    db: Path  # the history of the engine to talk to (its socket is derived from it)
    warnings: tuple[str, ...] = ()  # what discovery skipped as not safe to talk to


def find_target(history: str | None, config: str | None, profile: str | None,
                choose: Callable[[list[RunningEngine]], RunningEngine | None] | None = None) -> Target:
    """The engine meant (module docstring). `choose` asks an operator among several (None: no
    terminal to ask on). TargetError if there is none to talk to, or no way to tell which."""
    from engine.config.errors import ConfigError
    from engine.config.lookup import locate_config

    if history:
        if config:
            raise TargetError("--history and --config both name the engine: give one", EXIT_USAGE)
        return Target(Path(history).expanduser())
    try:
        location = locate_config(config)
        if not location.builtin:
            # yaml: imported only when there is a file to read
            from engine.config.storepath import store_path

            return Target(store_path(location.path, profile))
    except ConfigError as err:
        raise TargetError(f"bad configuration:\n{err}", EXIT_USAGE) from None
    return _discover(choose)


def _discover(choose: Callable[[list[RunningEngine]], RunningEngine | None] | None) -> Target:
    found = discover()
    engines, skipped = found.engines, tuple(found.skipped)
    if len(engines) == 1:
        return Target(engines[0].db, skipped)
    if not engines:
        looked = ", ".join(str(d) for d, _own in socket_dirs())
        raise TargetError(
            f"no engine is running for this user (no control socket answers in {looked}) and no config "
            "names one; start one with `opsconsole --headless`, or name a history with --history PATH"
            + skipped_text(skipped), EXIT_RUNTIME)
    chosen = choose(engines) if choose is not None else None
    if chosen is None:
        raise TargetError("several engines run for this user; choose one with --history:\n"
                          + listing(engines) + skipped_text(skipped), EXIT_USAGE)
    return Target(chosen.db, skipped)


def skipped_text(skipped: tuple[str, ...]) -> str:
    """The sockets discovery would not talk to, for the end of a message ("" if none)."""
    return "".join(f"\nskipped, not safe to talk to: {why}" for why in skipped)


def listing(engines: list[RunningEngine]) -> str:
    return "\n".join(f"  {n}. {engine.describe()}" for n, engine in enumerate(engines, 1))


def ask_on_terminal(engines: list[RunningEngine]) -> RunningEngine | None:
    """The operator's pick among `engines` (None: no terminal, or no pick)."""
    if not sys.stdin.isatty():
        return None
    print(f"several engines run for this user:\n{listing(engines)}", file=sys.stderr)
    answer = input(f"which one? [1-{len(engines)}, Enter for none] ").strip()
    if answer.isdigit() and 1 <= int(answer) <= len(engines):
        return engines[int(answer) - 1]
    return None


def others_hint(db: Path) -> str:
    """For "no engine is running for DB": the engines that do run, to choose from ("" if none)."""
    others = [e for e in running_engines() if db_key(e.db) != db_key(db)]
    return f"\nengines running for this user (choose one with --history):\n{listing(others)}" if others else ""
