"""Which engines run for this user: every control socket in this user's socket directories
(paths.socket_dirs()) that answers `hello`. For the shell during an incident: `opsconsole rollout
status` with no config finds the one engine, or names them all when there are several.

A socket that refuses the connection is a dead engine's leftover (kill -9): not an engine, and
left alone (the next engine on that history replaces it). A directory or a listener that fails
the checks of trust.py (another user's /tmp/opsconsole-<uid>, a listener of another uid) is never
talked to: it is skipped, and reported with the reason (Discovery.skipped), so the operator learns
that someone else is there. Nothing here reads a config file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.control.client import (
    ControlClient,
    ControlRefused,
    ControlUnavailable,
    ControlUnsafe,
)
from engine.control.paths import SUFFIX, Place, socket_dirs
from engine.control.trust import history_dir_problem, private_dir_problem

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


@dataclass(frozen=True)
class Discovery:
    engines: list[RunningEngine]
    skipped: list[str]  # sockets and directories not talked to, each with why and what to do


def discover() -> Discovery:
    """This user's engines that answer, in socket-directory order, one per history, and what was
    skipped as not safe to talk to."""
    found: dict[str, RunningEngine] = {}
    skipped: list[str] = []
    for directory, own_dir in socket_dirs():
        try:
            problem = private_dir_problem(directory) if own_dir else history_dir_problem(directory)
            sockets = sorted(p for p in directory.glob(f"*{SUFFIX}") if p.is_socket()) if problem is None else []
        except OSError:  # missing, or a directory we cannot list: nothing of ours to report on
            continue
        if problem is not None:
            if own_dir:  # a history's directory that is not private is just not one the engine uses
                skipped.append(f"{directory} not looked into: {problem}")
            continue
        for path in sockets:
            try:
                engine = _hello(Place(path, own_dir))
            except ControlUnsafe as exc:
                skipped.append(str(exc))
                continue
            if engine is not None:
                found.setdefault(str(engine.db), engine)
    return Discovery(list(found.values()), skipped)


def running_engines() -> list[RunningEngine]:
    return discover().engines


def _hello(place: Place) -> RunningEngine | None:
    """The engine listening at `place`, None if none answers; ControlUnsafe if it is not ours."""
    path = place.path
    client = ControlClient(Path(path.stem), timeout=HELLO_TIMEOUT, place=place)
    try:
        facts = client.hello()
    except ControlUnsafe:
        raise
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
