"""What `config check` asks of the machine, beyond the file: the checks the engine would otherwise
fail at start, found without starting it or creating anything.

    problems = preflight(loaded)       # config check: ["config.yaml:3: store.path: /srv is a directory: ..."]
    problems = start_problems(loaded)  # before an engine starts: the subset that stops it

An nginx main config that does not exist or never includes the upstream file is a validator in the
model, so every command refuses it. The theme is checked here: the console falls back to the
default theme with a warning (a missing theme file must not keep anyone from an incident), but a
config that names one that does not exist is a mistake `config check` should catch.
"""

from __future__ import annotations

from pathlib import Path

from engine.config.loader import LoadedConfig
from engine.store import paths
from themes import theme_files


def start_problems(loaded: LoadedConfig, *, headless: bool = False) -> list[str]:
    """What would make the engine refuse to start: checked before it writes anything (its log
    file included), so a refused start leaves nothing behind. A headless engine also needs a
    control socket it can serve safely: one nobody can reach is no use."""
    problems = []
    why = paths.unusable(loaded.config.store.path)
    if why is not None:
        problems.append(f"{loaded.where('store.path')}: store.path: {why}")
    if headless and why is None:
        unsafe = control_socket_problem(loaded.config.store.path)
        if unsafe is not None:
            problems.append(unsafe)
    return problems


def control_socket_problem(db: Path) -> str | None:
    """Why the engine's control socket could not be served safely (engine/control/trust.py)."""
    from engine.control.paths import ControlPathError, engine_socket

    try:
        engine_socket(db, create=False)
    except ControlPathError as err:
        return f"control socket: refusing to listen: {err}"
    return None


def preflight(loaded: LoadedConfig) -> list[str]:
    """Everything `config check` asks of the machine."""
    problems = start_problems(loaded, headless=True)
    themes = theme_files()
    if loaded.config.ui.theme not in themes:
        problems.append(f"{loaded.where('ui.theme')}: ui.theme: unknown theme {loaded.config.ui.theme!r}: "
                        f"use one of {', '.join(themes)} (the files in themes/)")
    return problems
