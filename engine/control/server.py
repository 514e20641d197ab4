"""The control socket's server: an engine component serving snapshots and commands to attached
consoles and CLI verbs of the same user.

- It listens only in a directory that is ours alone (engine/control/paths.py, trust.py), and
  refuses to start in one another user made first: that user could otherwise answer in its place.
- Only the engine's own uid is served: each connection's peer is read with SO_PEERCRED and any
  other uid gets one refusal line and a closed socket, recorded as a warning event.
- Commands go through `Engine.execute`, which serializes them and writes the audit row; the actor's
  user is the peer's, never what the client claims. The execution runs as its own task, shielded,
  so a client that hangs up (or a restart of this component) never cuts a command in half.
- A snapshot is encoded once per published snapshot, in a worker thread (it is immutable, so that
  is safe): ten attached consoles cost one encoding, and the engine's loop never spends
  milliseconds of JSON on a large fleet. A request may ask for `only` some collections (the CLI's
  `rollout status` asks for the rollout): the head fields and those, not the whole fleet.
- `hello` says which engine this is (pid, history, config file, profile, headless, since when)
  and its ui and logging settings, so a CLI or an attached console needs no config file to find
  and show it (engine/control/discover.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import pwd
import socket
import stat
from pathlib import Path
from typing import Any, Protocol

from engine import __version__, secrets
from engine import eventcodes as ev
from engine.commands import Command, CommandResult
from engine.component import ComponentError, EngineContext
from engine.control import protocol
from engine.control.paths import ControlPathError, engine_socket, socket_path
from engine.control.trust import peer_uid_pid
from engine.snapshot import Snapshot
from engine.snapshot_codec import to_jsonable

log = logging.getLogger("opsconsole.control")

MAX_CLIENTS = 32  # attached consoles and CLI verbs at once; more is a runaway script


class ControlledEngine(Protocol):
    """What the server needs of the Engine (engine/runtime.py)."""

    def snapshot(self) -> Snapshot: ...

    async def execute(self, command: Command) -> CommandResult: ...


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # no passwd entry (containers): the same fallback as Actor.current()
        return f"uid:{uid}"


class ControlServer:
    name = "control"

    def __init__(self, engine: ControlledEngine, db_path: Path, *, allowed_uid: int | None = None) -> None:
        self.engine = engine
        self.db_path = Path(db_path)
        self.path = socket_path(self.db_path)  # where it will be; _bind checks and decides
        self.allowed_uid = os.getuid() if allowed_uid is None else allowed_uid
        self._encoded: tuple[Snapshot, bytes] | None = None
        self._encode_lock = asyncio.Lock()
        self._connections: set[asyncio.Task[Any]] = set()
        self._commands: set[asyncio.Task[Any]] = set()

    async def run(self, ctx: EngineContext) -> None:
        sock, identity = await asyncio.to_thread(self._bind)
        server = await asyncio.start_unix_server(
            lambda r, w: self._serve(ctx, r, w), sock=sock, limit=protocol.MAX_REQUEST_BYTES
        )
        log.info("control socket listening on %s", self.path)
        try:
            await asyncio.Future()  # until cancelled (engine stop or reload)
        finally:
            server.close()
            for task in list(self._connections):
                task.cancel()
            self._unlink_if_ours(identity)

    # ------------------------------------------------------------------------ socket file
    def _bind(self) -> tuple[socket.socket, tuple[int, int]]:
        try:
            self.path = engine_socket(self.db_path)  # our own dir checked (trust.py), made if missing
        except ControlPathError as exc:
            raise ComponentError(f"control socket: refusing to listen: {exc}") from None
        # We hold the database's engine lock, so a socket here is a dead engine's leftover.
        _remove_leftover_socket(self.path)
        # Bound and listening under a temporary name, then renamed into place: a client that sees
        # the socket file never meets "connection refused" from the gap between bind and listen
        # (the name is no longer than the socket's own, so it fits sun_path too).
        staging = self.path.with_suffix(".tmp")
        _remove_leftover_socket(staging)  # a dead engine's: we hold the engine lock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(staging))
            os.chmod(staging, 0o600)
            sock.listen(MAX_CLIENTS)
            sock.setblocking(False)
            os.rename(staging, self.path)
            info = os.stat(self.path)
        except OSError as exc:
            sock.close()
            staging.unlink(missing_ok=True)
            raise ComponentError(f"control socket: cannot listen on {self.path}: {exc.strerror or exc}") from exc
        return sock, (info.st_dev, info.st_ino)

    def _unlink_if_ours(self, identity: tuple[int, int]) -> None:
        try:
            info = os.stat(self.path)
            if (info.st_dev, info.st_ino) == identity:
                os.unlink(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("control socket %s could not be removed: %s", self.path, exc.strerror or exc)

    # ------------------------------------------------------------------------ connections
    async def _serve(self, ctx: EngineContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            user = self._admit(ctx, writer)
            if user is None:  # refused: let the client read why rather than hit a broken pipe
                await writer.drain()
                await _discard_input(reader, writer)
                return
            await self._conversation(user, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: nothing to answer
        finally:
            self._connections.discard(task)
            writer.close()

    def _admit(self, ctx: EngineContext, writer: asyncio.StreamWriter) -> str | None:
        """The verified user name of the peer, or None after refusing it."""
        sock = writer.get_extra_info("socket")
        uid, pid = peer_uid_pid(sock)
        if uid != self.allowed_uid:
            why = f"refused: uid {uid} is not the engine's user (uid {self.allowed_uid})"
            ctx.event(ev.CONTROL_REFUSED, "warning", "control", f"control socket: {why} (pid {pid})",
                      {"pid": pid, "error": why})
            writer.write(protocol.encode({"ok": False, "error": why}))
            return None
        if len(self._connections) > MAX_CLIENTS:
            writer.write(protocol.encode({"ok": False, "error": f"refused: busy, {MAX_CLIENTS} clients are connected"}))
            return None
        return user_name(uid)

    async def _conversation(self, user: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line = await reader.readline()
            except (ValueError, asyncio.LimitOverrunError):
                writer.write(protocol.encode(
                    {"ok": False, "error": f"request longer than {protocol.MAX_REQUEST_BYTES} bytes"}))
                await writer.drain()
                await _discard_input(reader, writer)
                return
            if not line:
                return
            writer.write(await self._answer(user, line))
            await writer.drain()

    async def _answer(self, user: str, line: bytes) -> bytes:
        request_id: Any = None
        try:
            request = protocol.decode(line)
            request_id = request.get("id")
            op = request.get("op")
            if op == "snapshot" and request.get("only") is not None:
                only = protocol.snapshot_parts(request["only"])
                body = await asyncio.to_thread(_encode_snapshot, _only(self.engine.snapshot(), only))
                return self._with_id(body, request_id)
            if op == "snapshot":
                return self._with_id(await self._encoded_snapshot(), request_id)
            if op == "command":
                command = protocol.command_from_request(request, user)
                result = await self._execute(command)
                answer: dict[str, Any] = {"ok": True, "result": protocol.result_to_json(result)}
            elif op == "hello":
                answer = {"ok": True, "engine": self._hello()}
            else:
                raise protocol.ProtocolError(f"unknown op {op!r} (known: {', '.join(protocol.OPS)})")
        except protocol.ProtocolError as exc:
            answer = {"ok": False, "error": str(exc)}
        if request_id is not None:
            answer["id"] = request_id
        return protocol.encode(answer)

    async def _execute(self, command: Command) -> CommandResult:
        task = asyncio.ensure_future(self.engine.execute(command))
        self._commands.add(task)  # a strong reference: the task outlives a dropped connection
        task.add_done_callback(self._commands.discard)
        return await asyncio.shield(task)

    async def _encoded_snapshot(self) -> bytes:
        """`{"ok":true,"snapshot":...}` without the closing brace, cached per published snapshot."""
        async with self._encode_lock:
            snapshot = self.engine.snapshot()
            cached = self._encoded
            if cached is None or cached[0] is not snapshot:
                body = await asyncio.to_thread(_encode_snapshot, snapshot)
                self._encoded = cached = (snapshot, body)
            return cached[1]

    @staticmethod
    def _with_id(body: bytes, request_id: Any) -> bytes:
        suffix = b"}" if request_id is None else b',"id":' + protocol.encode(request_id).rstrip(b"\n") + b"}"
        return body + suffix + b"\n"

    def _hello(self) -> dict[str, Any]:
        snapshot = self.engine.snapshot()
        hello: dict[str, Any] = {
            "pid": os.getpid(), "version": __version__, "config": snapshot.config_name, "db": str(self.db_path),
            "profile": snapshot.profile, "started_at": snapshot.started_at,
        }
        return hello | _engine_facts(self.engine)


def _remove_leftover_socket(path: Path) -> None:
    """Unlink a socket file at `path`; never anything else (beside a history, a file of that name
    may be the user's)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ComponentError(f"control socket: {path} exists and is not a socket: remove it")
    os.unlink(path)


async def _discard_input(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Before closing on a client that may still be sending: half-close and read what is left (for
    a second at most), so the answer already written is not lost to a reset or a broken pipe."""
    writer.write_eof()
    try:
        async with asyncio.timeout(1.0):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return


def _engine_facts(engine: Any) -> dict[str, Any]:
    """What the Engine (engine/runtime.py) knows beyond its Snapshot; a test double may lack it."""
    facts: dict[str, Any] = {}
    config = getattr(engine, "config", None)
    config_path = getattr(getattr(engine, "loaded", None), "path", None)
    if config_path is not None:
        facts["config_path"] = os.path.abspath(config_path)
    if hasattr(engine, "headless"):
        facts["headless"] = bool(engine.headless)
    for section in ("ui", "logging"):  # the settings an attached console takes from its engine
        if hasattr(config, section):
            facts[section] = _redacted(getattr(config, section).model_dump(mode="json"))
    return facts


def _redacted(value: Any) -> Any:
    """No secret leaves through hello, even one written into a ui or logging value."""
    if isinstance(value, str):
        return secrets.redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v) for v in value]
    return value


def _only(snapshot: Snapshot, parts: frozenset[str]) -> Snapshot:
    """The snapshot's head fields and the collections in `parts`; the other collections empty."""
    # Field names chosen at run time: their values' types are the fields' own (None or ()).
    emptied: dict[str, Any] = {name: None if name == "rollout" else () for name in protocol.SNAPSHOT_PARTS - parts}
    return dataclasses.replace(snapshot, _index={}, **emptied)  # a fresh index: never the original's


def _encode_snapshot(snapshot: Snapshot) -> bytes:
    return protocol.encode({"ok": True, "snapshot": to_jsonable(snapshot)}).rstrip(b"\n")[:-1]
