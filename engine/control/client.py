"""A blocking client of an engine's control socket, for threads that may block: the attach
source's poller and the CLI verbs. Every failure to reach the engine is a ControlUnavailable whose
text says what an operator should know ("no engine is running for ...: start one with ...").
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

from engine.commands import Command, CommandResult
from engine.control import protocol
from engine.control.paths import socket_candidates
from engine.snapshot import Snapshot
from engine.snapshot_codec import SnapshotCodecError, from_jsonable

SNAPSHOT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 60.0  # a rollback may retry its actuator for a while; the engine finishes it anyway


class ControlUnavailable(Exception):
    """The engine cannot be reached (or stopped answering); str() is the reason."""


class ControlRefused(Exception):
    """The engine answered, and refused the request; str() is its reason."""


class ControlClient:
    """One connection, opened on first use and reopened after a failure."""

    def __init__(self, db_path: Path, *, timeout: float = SNAPSHOT_TIMEOUT, socket_path: Path | None = None) -> None:
        self.db_path = Path(db_path)
        self.timeout = timeout
        self.socket_path = socket_path  # this socket only (a discovered engine), not the db's candidates
        self.path: Path | None = None  # the socket connected to
        self._sock: socket.socket | None = None
        self._file: Any = None
        self._next_id = 0

    # ------------------------------------------------------------------------ requests
    def hello(self) -> dict[str, Any]:
        engine = self.request({"op": "hello"}).get("engine")
        return engine if isinstance(engine, dict) else {}

    def snapshot(self, only: tuple[str, ...] | None = None) -> Snapshot:
        """The engine's Snapshot; with `only`, its head fields and those collections (the others
        empty: protocol.py), which is all `rollout status` needs of a large fleet's snapshot."""
        answer = self.request({"op": "snapshot"} if only is None else {"op": "snapshot", "only": list(only)})
        try:
            return from_jsonable(answer.get("snapshot"))
        except SnapshotCodecError as exc:
            raise ControlUnavailable(f"the engine sent a snapshot this console cannot read ({exc})") from None

    def command(self, command: Command, origin: str, timeout: float = COMMAND_TIMEOUT) -> CommandResult:
        answer = self.request(protocol.command_request(command, origin), timeout=timeout)
        try:
            return protocol.result_from_json(answer.get("result"))
        except protocol.ProtocolError as exc:
            raise ControlUnavailable(str(exc)) from None

    def request(self, message: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        """Send one request and return the engine's answer (ControlRefused if it said no)."""
        self._next_id += 1
        message = {**message, "id": self._next_id}
        sock = self._connect()
        try:
            sock.settimeout(self.timeout if timeout is None else timeout)
            sock.sendall(protocol.encode(message))
            line = self._file.readline(protocol.MAX_ANSWER_BYTES + 1)
        except TimeoutError:
            self.close()
            raise ControlUnavailable(
                f"the engine did not answer within {self.timeout if timeout is None else timeout:g}s"
            ) from None
        except OSError as exc:
            self.close()
            raise ControlUnavailable(f"the connection to the engine broke: {exc.strerror or exc}") from None
        if not line.endswith(b"\n"):
            self.close()
            raise ControlUnavailable("the engine closed the connection" if not line else "the engine's answer was cut off")
        try:
            answer = protocol.decode(line)
        except protocol.ProtocolError as exc:
            self.close()
            raise ControlUnavailable(f"the engine's answer is unreadable: {exc}") from None
        if answer.get("ok") is not True:
            if answer.get("id") is None:  # refused the connection itself (another uid, too many clients)
                self.close()
                raise ControlUnavailable(f"the engine {answer.get('error') or 'refused the connection'}")
            raise ControlRefused(str(answer.get("error") or "refused"))
        return answer

    # ------------------------------------------------------------------------ connection
    def _connect(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        reasons: list[str] = []
        for path in [self.socket_path] if self.socket_path is not None else socket_candidates(self.db_path):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(path))
            except OSError as exc:
                sock.close()
                reasons.append(_why(path, exc))
                continue
            self._sock, self._file, self.path = sock, sock.makefile("rb"), path
            return sock
        raise ControlUnavailable(_unavailable(self.db_path, reasons))

    def close(self) -> None:
        sock, file = self._sock, self._file
        self._sock = self._file = None
        if file is not None:
            file.close()
        if sock is not None:
            sock.close()

    def __enter__(self) -> "ControlClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _why(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return f"{path} does not exist"
    if exc.errno == errno.ECONNREFUSED:
        return f"{path} is not answering (connection refused: the engine is gone)"
    if exc.errno == errno.EACCES:
        return f"{path}: permission denied (the engine runs as another user)"
    return f"{path}: {exc.strerror or exc}"


def _unavailable(db_path: Path, reasons: list[str]) -> str:
    if reasons and all(r.endswith("does not exist") for r in reasons):
        return (f"no engine is running for {db_path} (no control socket: {', '.join(reasons)}); "
                "start one with `opsconsole --headless`")
    return f"cannot reach the engine for {db_path}: {'; '.join(reasons)}"
