"""The control socket (engine/control/): private file modes, the peer-uid check, the actor taken
from the kernel rather than the request, clear errors for bad requests, serialized commands."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.commands import Actor, Command, CommandResult
from engine.component import EngineContext
from engine.control.client import ControlClient, ControlRefused, ControlUnavailable
from engine.control.paths import socket_path
from engine.control.server import ControlServer, user_name
from tests.enginefixtures import control_answers
from tests.headlessfixtures import db_rows, wait_until

ROOT = os.geteuid() == 0
SYSTEM_PYTHON = "/usr/bin/python3"  # the test's own interpreter may sit in root's home, unreadable to others


@pytest.fixture
def short_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real $XDG_RUNTIME_DIR short enough for a Unix socket path (tmp_path often is not)."""
    with tempfile.TemporaryDirectory(prefix="rt", dir="/tmp") as d:
        monkeypatch.setenv("XDG_RUNTIME_DIR", d)
        yield Path(d)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def raw(db: Path, *lines: bytes) -> list[dict]:
    """Send raw lines on one connection; the answers, one per line sent (fewer if it was closed)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(socket_path(db)))
        reader = sock.makefile("rb")
        answers = []
        for line in lines:
            sock.sendall(line)
            got = reader.readline()
            if not got:
                break
            answers.append(json.loads(got))
        return answers


def test_socket_is_0600_in_a_0700_directory_of_the_runtime_dir(start_engine, tmp_path: Path,
                                                                short_runtime_dir: Path) -> None:
    start_engine()  # a 0755 one is refused, not tightened: tests/test_control_trust.py
    db = tmp_path / "history.db"
    control_answers(db)
    path = socket_path(db)
    assert path.parent == short_runtime_dir / "opsconsole"
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700


def test_without_a_runtime_dir_the_socket_goes_beside_the_history(start_engine, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    start_engine()
    db = tmp_path / "history.db"
    control_answers(db)
    path = socket_path(db)
    assert path == Path(os.path.realpath(tmp_path)) / "history.db.sock"
    assert stat.S_ISSOCK(os.lstat(path).st_mode) and mode(path) == 0o600


def test_another_uid_is_refused_and_recorded(start_engine, tmp_path: Path) -> None:
    """The server's uid check, independent of the file modes: a server told to serve another uid
    refuses us exactly as it would refuse a stranger."""
    other_db = tmp_path / "other.db"
    engine = start_engine(components=[_StrictServer(other_db, os.getuid() + 1)])
    wait_until(lambda: socket_path(other_db).exists(), 10, "the strict server's socket")
    with pytest.raises(ControlUnavailable) as refused, ControlClient(other_db) as client:
        client.snapshot()
    assert f"refused: uid {os.getuid()} is not the engine's user (uid {os.getuid() + 1})" in str(refused.value)
    wait_until(lambda: any("control socket: refused: uid" in e.message for e in engine.snapshot().events),
               5, "the refusal as an event")
    assert any(e.severity == "warning" and e.source == "control" for e in engine.snapshot().events)


class _StrictServer(ControlServer):
    """A second control server of the same engine, on another database's socket, for another uid."""

    name = "strict-control"

    def __init__(self, db: Path, uid: int) -> None:
        self._init_args = (db, uid)

    async def run(self, ctx: EngineContext) -> None:
        db, uid = self._init_args
        super().__init__(ctx, db, allowed_uid=uid)  # type: ignore[arg-type]  (the engine is the ctx)
        await super().run(ctx)


@pytest.mark.skipif(not ROOT or not os.access(SYSTEM_PYTHON, os.X_OK),
                    reason="connecting as another real user needs root (setuid) and /usr/bin/python3; the uid "
                    "check itself is covered by test_another_uid_is_refused_and_recorded")
def test_a_real_other_user_cannot_connect_and_is_refused_even_past_the_file_modes(
        start_engine, tmp_path: Path, short_runtime_dir: Path) -> None:
    os.chmod(short_runtime_dir, 0o755)  # like /run/user: the other user may reach opsconsole/, not enter it
    start_engine()
    db = tmp_path / "history.db"
    control_answers(db)
    path = socket_path(db)
    probe = [SYSTEM_PYTHON, "-c", (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX); s.settimeout(5)\n"
        "try:\n    s.connect(sys.argv[1])\nexcept OSError as e:\n    print('CONNECT', e.errno); sys.exit(0)\n"
        "s.sendall(b'{\"op\":\"snapshot\"}\\n'); print('ANSWER', s.makefile('rb').readline().decode())\n"
    ), str(path)]
    denied = subprocess.run(probe, user=65534, capture_output=True, text=True, timeout=30)
    assert denied.stdout.startswith("CONNECT 13"), denied  # EACCES: the 0700 dir and the 0600 socket
    os.chmod(path.parent, 0o777)
    os.chmod(path, 0o777)  # as if the modes were lost: the uid check still refuses
    try:
        answered = subprocess.run(probe, user=65534, capture_output=True, text=True, timeout=30)
    finally:
        os.chmod(path.parent, 0o700)
        os.chmod(path, 0o600)
    assert answered.stdout.startswith("ANSWER"), answered
    answer = json.loads(answered.stdout.split(" ", 1)[1])
    assert answer == {"ok": False, "error": f"refused: uid 65534 is not the engine's user (uid {os.getuid()})"}


def test_a_command_is_audited_with_the_peers_user_and_the_clients_address(start_engine, tmp_path: Path) -> None:
    start_engine()
    db = tmp_path / "history.db"
    control_answers(db)
    request = {"op": "command", "name": "pause", "args": {"reason": "maintenance"}, "id": 7,
               "actor": {"user": "mallory", "address": "10.1.2.3", "origin": "cli"}}
    (answer,) = raw(db, json.dumps(request).encode() + b"\n")
    assert answer["ok"] is True and answer["id"] == 7
    assert answer["result"]["ok"] is True and answer["result"]["message"].startswith("paused")
    rows = wait_until(lambda: db_rows(db, "SELECT user, address, origin, action, ok FROM audit"), 5, "the audit row")
    assert rows == [(user_name(os.getuid()), "10.1.2.3", "cli", "pause", 1)]


def test_bad_requests_get_clear_answers_and_the_connection_goes_on(start_engine, tmp_path: Path) -> None:
    start_engine()
    db = tmp_path / "history.db"
    control_answers(db)
    answers = raw(
        db,
        b"{not json\n",
        b'{"op": "launch", "id": 1}\n',
        b'{"op": "command", "id": 2, "actor": {"origin": "cli"}}\n',
        b'{"op": "command", "id": 3, "name": "pause", "actor": {"user": "x", "origin": "tui"}}\n',
        b'{"op": "command", "id": 4, "name": "nope", "actor": {"user": "x", "origin": "cli"}}\n',
        b'{"op": "snapshot", "id": 5}\n',
    )
    assert answers[0]["ok"] is False and answers[0]["error"].startswith("not a JSON line")
    assert answers[1] == {"ok": False, "error": "unknown op 'launch' (known: hello, snapshot, command)", "id": 1}
    assert answers[2]["error"] == "a command needs a name"
    assert answers[3]["error"] == "pause: origin must be one of attach, cli, got 'tui'"
    assert answers[4]["ok"] is True and answers[4]["result"] == {
        "ok": False, "message": "unknown command 'nope'", "data": {}, "audit": {}}
    assert answers[5]["ok"] is True and answers[5]["id"] == 5 and answers[5]["snapshot"]["state"] == "running"
    too_long = raw(db, b'{"op": "hello", "pad": "' + b"x" * 70_000 + b'"}\n', b'{"op": "hello"}\n')
    assert too_long == [{"ok": False, "error": "request longer than 65536 bytes"}]  # and then closed


def test_no_engine_and_a_dead_engine_are_told_apart(tmp_path: Path, start_engine) -> None:
    with pytest.raises(ControlUnavailable) as none, ControlClient(tmp_path / "history.db") as client:
        client.hello()
    assert "no engine is running for" in str(none.value) and "opsconsole --headless" in str(none.value)
    path = socket_path(tmp_path / "history.db")
    path.parent.mkdir(mode=0o700, exist_ok=True)
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(path))
    leftover.close()  # a crashed engine's socket file: nobody listens
    with pytest.raises(ControlUnavailable) as dead, ControlClient(tmp_path / "history.db") as client:
        client.hello()
    assert "connection refused: the engine is gone" in str(dead.value)
    start_engine()  # the leftover is replaced: the engine holds the database lock, so it is stale
    control_answers(tmp_path / "history.db")


def test_a_file_in_the_sockets_place_is_not_deleted(tmp_path: Path, start_engine) -> None:
    path = socket_path(tmp_path / "history.db")
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text("someone's file")
    try:
        engine = start_engine()
        view = wait_until(lambda: next((c for c in engine.snapshot().components
                                        if c.name == "control" and c.last_error), None), 10, "the control error")
        assert view.last_error == f"control socket: {path} exists and is not a socket: remove it"
        assert path.read_text() == "someone's file"
    finally:
        path.unlink()


class _Slow:
    """Owns `test.slow`: sleeps, and counts how many run at once."""

    name = "slow-verb"

    def __init__(self) -> None:
        self.running = self.most = 0

    async def run(self, ctx: EngineContext) -> None:
        ctx.register_command("test.slow", self._slow)
        await asyncio.Future()

    async def _slow(self, command: Command) -> CommandResult:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.1)
        self.running -= 1
        return CommandResult(True, f"slow {command.args['n']}")


def test_commands_from_several_clients_run_one_at_a_time(start_engine, tmp_path: Path) -> None:
    slow = _Slow()
    start_engine(components=[slow])
    db = tmp_path / "history.db"
    control_answers(db)
    results: list[CommandResult] = []

    def send(n: int) -> None:
        with ControlClient(db) as client:
            results.append(client.command(Command("test.slow", {"n": n}, Actor("someone")), "attach"))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert sorted(r.message for r in results) == [f"slow {n}" for n in range(4)]
    assert slow.most == 1
    rows = wait_until(lambda: db_rows(db, "SELECT origin FROM audit WHERE action = 'test.slow'"), 5, "audit rows")
    wait_until(lambda: len(db_rows(db, "SELECT origin FROM audit WHERE action = 'test.slow'")) == 4, 5, "4 rows")
    assert {origin for (origin,) in rows} == {"attach"}


def test_a_refused_request_raises_control_refused(start_engine, tmp_path: Path) -> None:
    start_engine()
    db = tmp_path / "history.db"
    control_answers(db)
    with ControlClient(db) as client, pytest.raises(ControlRefused, match="unknown op 'explode'"):
        client.request({"op": "explode"})
