"""Which config file opsconsole reads, and how it was found. The documented order:

  1. `--config PATH`
  2. `$OPSCONSOLE_CONFIG`
  3. `./opsconsole.yaml` in the current directory
  4. `$XDG_CONFIG_HOME/opsconsole/config.yaml` (`~/.config/opsconsole/config.yaml` by default)
  5. the built-in demo: engine/demo/config.yaml, which is the repository's root config.yaml
     (a symlink in the source tree, copied into the wheel), so there is one file to edit.

`./config.yaml` is never read: that name belongs to docker-compose files, other tools' configs
and a dozen frameworks, and a foreign one in the current directory used to break every command.

A path that was asked for (--config or the variable) and does not exist is an error rather than
a silent fall back. No YAML and no pydantic here: the shell's fast paths (`rollout status`) use it
(so `exists` lives here, not in yamlfile.py, which imports yaml).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import engine
from engine.config.errors import ConfigError

LOCAL_NAME = "opsconsole.yaml"
BUILTIN_DEMO = Path(engine.__file__).parent / "demo" / "config.yaml"
# How a config was found, in search order.
EXPLICIT, ENV_VAR, CWD, USER, DEMO = "--config", "OPSCONSOLE_CONFIG", "cwd", "user", "demo"


@dataclass(frozen=True)
class ConfigLocation:
    path: Path  # the file to read (the built-in demo's file for DEMO)
    source: str  # EXPLICIT, ENV_VAR, CWD, USER or DEMO

    @property
    def builtin(self) -> bool:
        return self.source == DEMO

    def label(self) -> str:
        """Short, for the console's header: "prod.yaml", "./opsconsole.yaml", "built-in demo"."""
        if self.source == EXPLICIT:
            return self.path.name
        if self.source == ENV_VAR:
            return f"{self.path.name} ($OPSCONSOLE_CONFIG)"
        if self.source == CWD:
            return f"./{LOCAL_NAME}"
        if self.source == USER:
            return _tilde(self.path)
        return "built-in demo"

    def describe(self) -> str:
        """Long, for `config check` / `config show`: the file and why it was the one read."""
        if self.source == EXPLICIT:
            return f"{self.path} (given on the command line)"
        if self.source == ENV_VAR:
            return f"{self.path} (from $OPSCONSOLE_CONFIG)"
        if self.source == CWD:
            return f"./{LOCAL_NAME} (found in the current directory)"
        if self.source == USER:
            return f"{_tilde(self.path)} (your user config)"
        return (f"built-in demo ({self.path}; no --config, $OPSCONSOLE_CONFIG, ./{LOCAL_NAME} "
                "or ~/.config/opsconsole/config.yaml)")


def locate_config(explicit: str | Path | None, env: Mapping[str, str] = os.environ) -> ConfigLocation:
    """The config to read, in the order of the module docstring; ConfigError for a path that was
    asked for and does not exist."""
    for given, source in ((explicit, EXPLICIT), (env.get("OPSCONSOLE_CONFIG"), ENV_VAR)):
        if given is not None and str(given) != "":
            path = Path(given).expanduser()
            if not exists(path):
                raise ConfigError(f"config file '{path}' (from {source}) does not exist")
            return ConfigLocation(path, source)
    local = Path(LOCAL_NAME)
    if exists(local):
        return ConfigLocation(local, CWD)
    user = user_config_path(env)
    if exists(user):
        return ConfigLocation(user, USER)
    return ConfigLocation(BUILTIN_DEMO, DEMO)


def user_config_path(env: Mapping[str, str] = os.environ) -> Path:
    xdg = env.get("XDG_CONFIG_HOME", "")
    if not os.path.isabs(xdg):  # the XDG spec says to ignore a relative value
        xdg = os.path.join(env.get("HOME") or os.path.expanduser("~"), ".config")
    return Path(xdg) / "opsconsole" / "config.yaml"


def exists(path: Path) -> bool:
    """Like Path.exists, but a path we may not stat counts as existing, so that reading it
    reports "permission denied" instead of "does not exist"."""
    try:
        path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError:
        return True
    return True


def _tilde(path: Path) -> str:
    home = os.path.expanduser("~")
    text = str(path)
    return "~" + text[len(home):] if home not in ("", "/") and text.startswith(home + os.sep) else text
