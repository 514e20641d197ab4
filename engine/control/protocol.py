"""The control channel's wire format: JSON lines, one request and one answer per line.

Requests (every one may carry an "id", echoed in the answer):
    {"op": "hello"}                                  -> {"ok": true, "engine": {"pid", "version", "config", "db",
                                                        "config_path", "profile", "headless", "started_at", "ui", "logging"}}
    {"op": "snapshot"}                               -> {"ok": true, "snapshot": {...}}   (engine/snapshot_codec.py)
    {"op": "snapshot", "only": ["rollout"]}          -> the same, with only the head fields and the listed
                                                        collections (an older engine sends them all: same reading)
    {"op": "command", "name": "rollout.rollback", "args": {"reason": "..."},
     "actor": {"user": "alice", "address": "10.0.0.5", "origin": "attach"}}
                                                     -> {"ok": true, "result": {"ok", "message", "data", "audit"}}
A request the engine cannot take is answered {"ok": false, "error": "<sentence>"}.

The actor's user is never taken from the request: the server puts in the user of the peer's uid
(SO_PEERCRED). The address (the client's SSH_CLIENT) and the origin ("attach" or "cli") come from
the client: the uid check already guarantees they were sent by the engine's own user.
"""

from __future__ import annotations

import json
from typing import Any

from engine.commands import Actor, Command, CommandResult

MAX_REQUEST_BYTES = 64 * 1024  # a command line is small; anything longer is not ours
MAX_ANSWER_BYTES = 256 * 1024 * 1024  # a snapshot of a very large fleet, with room to spare
ORIGINS = frozenset({"attach", "cli"})
OPS = ("hello", "snapshot", "command")
# The Snapshot's collections a "snapshot" request may ask for `only` of (engine/snapshot.py).
SNAPSHOT_PARTS = frozenset({"series", "components", "health", "alerts", "gaps", "targets", "errors",
                            "processes", "rollout", "events"})


class ProtocolError(Exception):
    """A line that is not a valid request or answer; str() says what is wrong with it."""


def encode(message: dict[str, Any]) -> bytes:
    # default=str: a handler's result data may hold a Path or a datetime; text is better than a failure.
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    try:
        message = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not a JSON line: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError(f"expected a JSON object, got {type(message).__name__}")
    return message


def snapshot_parts(only: Any) -> frozenset[str]:
    """The collections a request's `only` names; ProtocolError for anything else."""
    if not isinstance(only, list) or not all(isinstance(p, str) for p in only):
        raise ProtocolError("snapshot: only must be a list of collection names")
    unknown = sorted(set(only) - SNAPSHOT_PARTS)
    if unknown:
        raise ProtocolError(f"snapshot: unknown part {unknown[0]!r} (known: {', '.join(sorted(SNAPSHOT_PARTS))})")
    return frozenset(only)


def command_request(command: Command, origin: str) -> dict[str, Any]:
    actor = command.actor
    return {
        "op": "command",
        "name": command.name,
        "args": command.args,
        "actor": {"user": actor.user, "address": actor.address, "origin": origin},
    }


def command_from_request(request: dict[str, Any], verified_user: str) -> Command:
    """The Command a request asks for, its actor's user replaced by the verified one."""
    name, args, actor = request.get("name"), request.get("args", {}), request.get("actor")
    if not isinstance(name, str) or not name:
        raise ProtocolError("a command needs a name")
    if not isinstance(args, dict):
        raise ProtocolError(f"{name}: args must be a JSON object")
    if not isinstance(actor, dict):
        raise ProtocolError(f"{name}: the request has no actor")
    origin, address = actor.get("origin"), actor.get("address")
    if origin not in ORIGINS:
        raise ProtocolError(f"{name}: origin must be one of {', '.join(sorted(ORIGINS))}, got {origin!r}")
    if address is not None and (not isinstance(address, str) or len(address) > 256):
        raise ProtocolError(f"{name}: the actor's address must be text")
    return Command(name, args, Actor(user=verified_user, address=address or None, origin=origin))


def result_to_json(result: CommandResult) -> dict[str, Any]:
    return {"ok": result.ok, "message": result.message, "data": result.data, "audit": result.audit}


def result_from_json(data: Any) -> CommandResult:
    if not isinstance(data, dict) or not isinstance(data.get("ok"), bool) or not isinstance(data.get("message"), str):
        raise ProtocolError("the engine's answer holds no command result")
    extra = {k: data[k] for k in ("data", "audit") if isinstance(data.get(k), dict)}
    return CommandResult(data["ok"], data["message"], **extra)
