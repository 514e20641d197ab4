"""Which engines run for this user: every control socket in this user's socket directories
(paths.socket_dirs()) that answers `hello`. For the shell during an incident: `opsconsole rollout
status` with no config finds the one engine, or names them all when there are several.

A socket that refuses the connection is a dead engine's leftover (kill -9): not an engine, and
left alone (the next engine on that history replaces it). Nothing here reads a config file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.control.client import ControlClient, ControlRefused, ControlUnavailable
from engine.control.paths import socket_dirs

HELLO_TIMEOUT = 2.0  # a live engine answers hello from its loop within milliseconds


@dataclass(frozen=True)
class RunningEngine:
    socket: Path
    db: Path  # the history it writes: what --history names
    pid: int | None
    config_path: str | None  # the file it was started with (None: older engine, or built-in defaults)
    config_name: str
    profile: str | None
    headless: bool | None
    started_at: float | None
    facts: dict[str, Any]  # the whole hello answer (ui and logging settings for attach)

    def describe(self, now: float | None = None) -> str:
        """"/var/lib/ops/history.db — config /etc/opsconsole/config.yaml [prod], headless, pid 4242, up 3h"."""
        config = self.config_path or self.config_name or "unknown config"
        profile = f" [{self.profile}]" if self.profile else ""
        kind = {True: "headless", False: "console", None: "engine"}[self.headless]
        pid = f", pid {self.pid}" if self.pid is not None else ""
        up = ""
        if self.started_at is not None:
            from engine.units import format_duration

            up = f", up {format_duration(max(0.0, (now or time.time()) - self.started_at))}"
        return f"{self.db} — config {config}{profile}, {kind}{pid}{up}"


def running_engines() -> list[RunningEngine]:
    """This user's engines that answer, in socket-directory order, one per history."""
    found: dict[str, RunningEngine] = {}
    for directory in socket_dirs():
        try:
            sockets = sorted(p for p in directory.glob("*.sock") if p.is_socket())
        except OSError:  # a directory we cannot list is not ours to report on
            continue
        for path in sockets:
            engine = _hello(path)
            if engine is not None:
                found.setdefault(str(engine.db), engine)
    return list(found.values())


def _hello(path: Path) -> RunningEngine | None:
    client = ControlClient(Path(path.stem), timeout=HELLO_TIMEOUT, socket_path=path)
    try:
        facts = client.hello()
    except (ControlUnavailable, ControlRefused):
        return None
    finally:
        client.close()
    db = facts.get("db")
    if not isinstance(db, str) or not db:
        return None
    return RunningEngine(
        socket=path, db=Path(db), pid=_typed(facts, "pid", int), config_path=_typed(facts, "config_path", str),
        config_name=_typed(facts, "config", str) or "", profile=_typed(facts, "profile", str),
        headless=_typed(facts, "headless", bool), started_at=_typed(facts, "started_at", float), facts=facts,
    )


def _typed(facts: dict[str, Any], key: str, kind: type) -> Any:
    value = facts.get(key)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, bool):
        return None
    return value if isinstance(value, kind) else None
