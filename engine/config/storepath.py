"""The history a config file names (store.path), without validating the rest of it.

For the shell's commands that only need to find a running engine (`opsconsole rollout ...`,
`attach`): the engine's control socket is derived from its history's path. Loading the whole
config would import pydantic and every part's schema (most of a second) and fail on any unset
`${SECRET}`; here only store.path's own `${NAME}` references are resolved, so the engine's secrets
are never needed in the caller's environment.

The same rules as the loader (engine/config/loader.py) for this one key: the file's store.path,
the chosen profile's (--profile, else $OPSCONSOLE_PROFILE) over it, $OPSCONSOLE_STORE__PATH over
both; `~` expanded; relative to the config file's directory (the variable's: to the current
directory); by default $XDG_STATE_HOME/opsconsole/history.db (tests pin it to StoreConfig's).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from engine.config import yamlfile
from engine.config.errors import ConfigError
from engine.statedir import state_dir

ENV_OVERRIDE = "OPSCONSOLE_STORE__PATH"
_REF = re.compile(r"\$\$\{|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: ~10x faster


def default_history(env: Mapping[str, str] = os.environ) -> Path:
    return state_dir(env) / "history.db"


def store_path(config: Path, profile: str | None = None, env: Mapping[str, str] = os.environ) -> Path:
    """The history `config` (a file found by engine/config/lookup.py) makes its engine write.
    ConfigError naming the file and key if it cannot be told."""
    label = str(config)
    text = yamlfile.read_text(config)
    try:
        data = yaml.load(text, Loader=_LOADER)  # a safe loader (C or Python)
    except yaml.YAMLError as err:
        raise yamlfile.syntax_error(label, text, err) from None
    data = data if isinstance(data, dict) else {}
    value, key = _store_path_in(data), "store.path"
    if not profile:
        profile = env.get("OPSCONSOLE_PROFILE") or None
    if profile:
        profiles = data.get("profiles")
        if not isinstance(profiles, dict) or profile not in profiles:
            names = ", ".join(map(str, profiles)) if isinstance(profiles, dict) and profiles else ""
            raise ConfigError(f"{label}: profile '{profile}' not found "
                              f"({'available: ' + names if names else 'the file defines no profiles'})")
        chosen = _store_path_in(profiles[profile])
        if chosen is not None:
            value, key = chosen, f"profiles.{profile}.store.path"
    if env.get(ENV_OVERRIDE):
        return _as_path(_substitute(env[ENV_OVERRIDE], f"env {ENV_OVERRIDE}", env), Path.cwd())
    if value is None:
        return default_history(env)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{label}: {key}: expected a file path, got {value!r}")
    return _as_path(_substitute(value, f"{label}: {key}", env), config.absolute().parent)


def _store_path_in(section: Any) -> Any:
    store = section.get("store") if isinstance(section, dict) else None
    return store.get("path") if isinstance(store, dict) else None


def _substitute(text: str, where: str, env: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name is None:
            return "${"
        if name not in env:
            raise ConfigError(f"{where}: environment variable {name} is not set")
        return env[name]

    return _REF.sub(replace, text)


def _as_path(text: str, base: Path) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else base / path
