"""Commands the console (or CLI, or an attached console) sends to the engine, and their results.

Every command carries its actor, so the audit table can say who did it, when and from where.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Actor:
    """Who asked: the OS user and, over SSH, the client address (from SSH_CLIENT)."""

    user: str
    address: str | None = None
    origin: str = "tui"  # tui / cli / attach / engine

    @classmethod
    def current(cls, origin: str = "tui") -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers): fall back to the uid
            user = f"uid:{os.getuid()}"
        ssh_client = os.environ.get("SSH_CLIENT") or os.environ.get("SSH_CONNECTION") or ""
        address = ssh_client.split()[0] if ssh_client.strip() else None
        return cls(user=user, address=address, origin=origin)

    def describe(self) -> str:
        return f"{self.user}@{self.address}" if self.address else self.user


ENGINE_ACTOR = Actor(user="engine", origin="engine")


@dataclass(frozen=True)
class Command:
    """A verb for the engine, e.g. Command("pause"), Command("rollout.rollback", {"reason": ...})."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    actor: Actor = field(default_factory=Actor.current)


@dataclass(frozen=True)
class CommandResult:
    ok: bool
    message: str
    data: dict[str, Any] = field(default_factory=dict)
    audit: dict[str, Any] = field(default_factory=dict)  # context for the audit row: stage, weight, metrics

    @classmethod
    def refused(cls, why: str) -> CommandResult:
        return cls(ok=False, message=why)
