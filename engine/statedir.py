"""Where opsconsole keeps its state by default: $XDG_STATE_HOME/opsconsole, or
~/.local/state/opsconsole. One rule for the config schema and for the shell's fast paths
(`rollout status`, `attach`), which must not import pydantic or yaml to know it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "opsconsole"
