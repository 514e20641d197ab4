"""A blocking client of an engine's control socket, for threads that may block: the attach
source's poller and the CLI verbs. Every failure to reach the engine is a ControlUnavailable whose
text says what an operator should know ("no engine is running for ...: start one with ...").

Nothing is sent before the socket is trusted (trust.py): its directory is checked before connect,
the listener's uid (SO_PEERCRED) right after. A socket that fails either is a ControlUnsafe, raised
at once rather than skipped for the next place: someone else is there, and the operator must know.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

from engine.commands import Command, CommandResult
from engine.control import protocol
from engine.control.paths import Place, client_places
from engine.control.trust import history_dir_problem, peer_problem, private_dir_problem
from engine.snapshot import Snapshot
from engine.snapshot_codec import SnapshotCodecError, from_jsonable

SNAPSHOT_TIMEOUT = 5.0
COMMAND_TIMEOUT = 60.0  # a rollback may retry its actuator for a while; the engine finishes it anyway


class ControlUnavailable(Exception):
    """The engine cannot be reached (or stopped answering); str() is the reason."""


class ControlUnsafe(ControlUnavailable):
    """The socket is not provably our engine's (another user's directory or listener): nothing
    was sent; str() names the path, the owner found and what to do."""


class ControlRefused(Exception):
    """The engine answered, and refused the request; str() is its reason."""


class ControlClient:
    """One connection, opened on first use and reopened after a failure."""

    def __init__(self, db_path: Path, *, timeout: float = SNAPSHOT_TIMEOUT, place: Place | None = None) -> None:
        self.db_path = Path(db_path)
        self.timeout = timeout
        self.place = place  # this socket only (a discovered engine), not the db's candidates
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
        for place in [self.place] if self.place is not None else client_places(self.db_path):
            path = place.path
            why = _directory_problem(place)
            if why is not None:
                reasons.append(why)
                continue
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(path))
                problem = peer_problem(sock, path)
            except OSError as exc:
                sock.close()
                reasons.append(_why(path, exc))
                continue
            if problem is not None:
                sock.close()
                raise ControlUnsafe(_unsafe(path, problem))
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

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _directory_problem(place: Place) -> str | None:
    """None if `place`'s directory may hold our engine's socket; a reason to look elsewhere if it
    cannot (missing); ControlUnsafe if another user could be behind it."""
    directory = place.path.parent
    try:
        problem = private_dir_problem(directory) if place.own_dir else history_dir_problem(directory)
    except FileNotFoundError:
        return f"{place.path} does not exist"
    except OSError as exc:
        return f"{directory}: {exc.strerror or exc}"
    if problem is None:
        return None
    if not place.own_dir:  # the engine would not have used this history's directory either
        return f"{place.path} not used ({problem})"
    raise ControlUnsafe(_unsafe(place.path, problem))


def _unsafe(path: Path, problem: str) -> str:
    return f"refusing to talk to the engine at {path}: {problem}; nothing was sent to it"


def _why(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return f"{path} does not exist"
    if exc.errno == errno.ECONNREFUSED:
        return f"{path} is not answering (connection refused: the engine is gone)"
    if exc.errno == errno.EACCES:
        return f"{path}: permission denied (the engine runs as another user)"
    return f"{path}: {exc.strerror or exc}"


def _unavailable(db_path: Path, reasons: list[str]) -> str:
    if reasons and all(r.endswith("does not exist") or " not used (" in r for r in reasons):
        return (f"no engine is running for {db_path} (no control socket: {', '.join(reasons)}); "
                "start one with `opsconsole --headless`")
    return f"cannot reach the engine for {db_path}: {'; '.join(reasons)}"
