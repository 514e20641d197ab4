"""The control socket cannot be impersonated (issue 18): a real second user (nobody, a forked
process that drops root) makes the socket's directory first and listens under the engine's name.
The CLI, run as a real process, refuses with a sentence naming the path, the owner and what to
do, and the impostor receives no byte; discovery skips and reports it; the real engine either
listens somewhere safe (beside its history) or refuses to start, leaving nothing behind. Also a
symlinked and a 0755 directory, and a listener of another uid inside our own directory.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.control.paths import db_key, fallback_dir
from tests.headlessfixtures import (
    FAST,
    HeadlessProcess,
    canary_section,
    db_rows,
    wait_until,
)
from tests.httpfixtures import HttpFixture
from tests.mountns import fallback_view
from tests.ptyrun import opsconsole_argv

NOBODY = 65534
ME = "uid 0 (root)"  # who the tests run as (skipped otherwise)
FAKE = (b'{"ok": true, "result": {"ok": true, "message": "rolled back to 0%", "data": {}, "audit": {}},'
        b' "id": 1}\n')  # what the impostor answers to anything

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                                reason="a real second user needs root (setuid) and util-linux")


class Impostor:
    """A process running as nobody that creates `directory` (unless it exists) and listens on
    `directory/name`, answering any line with a fake "rolled back"; `finish()` says how many
    connections it got and how many bytes they sent. Forked, not exec-ed: as nobody it could not
    read this Python's files under /root (everything the child uses is imported above)."""

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / name
        ready_r, ready_w = os.pipe()
        self._stop_r, self._stop_w = os.pipe()
        self._result_r, result_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns into pytest
            os.close(ready_r)
            os.close(self._stop_w)
            os.close(self._result_r)
            code = 1
            try:
                self._listen(directory, ready_w, result_w)
                code = 0
            except BaseException as exc:  # noqa: BLE001  (told to the parent, which fails the test)
                os.write(ready_w, f"error {exc!r}\n".encode())
            os._exit(code)
        os.close(ready_w)
        os.close(self._stop_r)
        os.close(result_w)
        readable, _, _ = select.select([ready_r], [], [], 30)
        said = os.read(ready_r, 4096).decode() if readable else "no answer in 30s"
        os.close(ready_r)
        if said != "ready\n":
            self.finish()
            raise AssertionError(f"the impostor could not listen on {self.path}: {said}")

    def _listen(self, directory: Path, ready_w: int, result_w: int) -> None:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        if not directory.exists():
            os.mkdir(directory, 0o700)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(self.path))
        server.listen(8)
        os.write(ready_w, b"ready\n")
        connections = received = 0
        while True:
            readable, _, _ = select.select([server, self._stop_r], [], [])
            if self._stop_r in readable:
                break
            conn, _ = server.accept()
            connections += 1
            conn.settimeout(5)
            try:
                while chunk := conn.recv(65536):
                    received += len(chunk)
                    if b"\n" in chunk:
                        conn.sendall(FAKE)
            except OSError:
                pass  # the client hung up or went quiet: counted what came
            conn.close()
        os.write(result_w, json.dumps({"connections": connections, "bytes": received}).encode())

    def finish(self) -> dict[str, int]:
        """Stop it; what it received."""
        os.close(self._stop_w)
        readable, _, _ = select.select([self._result_r], [], [], 30)
        data = os.read(self._result_r, 4096) if readable else b""
        os.close(self._result_r)
        os.waitpid(self.pid, 0)
        return json.loads(data) if data else {"connections": -1, "bytes": -1}


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A short directory anyone can create entries in, like /tmp (1777), for the impostor's work."""
    path = Path(tempfile.mkdtemp(prefix="oc-sq-", dir="/tmp"))
    os.chmod(path, 0o1777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def no_runtime_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """su, cron, a system service: no $XDG_RUNTIME_DIR, for the CLI and the engine alike."""
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)


def cli(prefix: list[str], cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, *opsconsole_argv(*args)], cwd=cwd, env=env or dict(os.environ), check=False,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def engine_config(directory: Path, actuator: HttpFixture, *, store: bool = True) -> Path:
    """A headless engine holding a rollout at 10% until told; without `store`, its history is
    the default one ($XDG_STATE_HOME/opsconsole/history.db)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "engine.yaml"
    fast = FAST if store else FAST.replace("store: {path: history.db, ", "store: {")
    config.write_text(fast + canary_section(actuator.url("")))
    return config


def test_the_drill_an_impostor_in_tmp_gets_nothing_and_the_real_engine_listens_beside_its_history(
    no_runtime_dir: None, shared_tmp: Path, tmp_path: Path, actuator: HttpFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = Path(tempfile.mkdtemp(prefix="oc-st-", dir="/tmp"))  # short: the socket beside the history fits
    try:
        monkeypatch.setenv("XDG_STATE_HOME", str(state))
        config = engine_config(tmp_path / "etc", actuator, store=False)
        db = state / "opsconsole" / "history.db"
        squatted = fallback_dir()
        impostor = Impostor(shared_tmp / squatted.name, f"{db_key(db)}.sock")
        try:
            with fallback_view(source=shared_tmp / squatted.name) as inside:
                # 1. No engine yet: the CLI finds the impostor's socket in /tmp, and refuses it.
                refused = cli(inside, tmp_path, "rollout", "rollback", "--yes", "--reason", "page 4411",
                              "--history", str(db))
                assert refused.returncode == 1, refused
                assert refused.stdout == ""
                assert refused.stderr.startswith(
                    f"opsconsole: refusing to talk to the engine at {squatted}/{db_key(db)}.sock: {squatted} "
                    f"belongs to uid {NOBODY} (nobody), not to you ({ME})"), refused.stderr
                assert f"have it removed (as root: rm -r {squatted})" in refused.stderr
                assert "nothing was sent to it" in refused.stderr
                # discovery (no config, no --history) does not talk to it either, and says so
                found = cli(inside, tmp_path, "rollout", "rollback", "--yes")
                assert found.returncode == 1, found
                assert found.stderr.startswith("opsconsole: no engine is running for this user"), found.stderr
                assert (f"\nskipped, not safe to talk to: {squatted} not looked into: {squatted} belongs to uid "
                        f"{NOBODY} (nobody)") in found.stderr

                # 2. The real engine starts (it cannot see the namespace's /tmp: it does not need to):
                # with no runtime dir it listens beside its history, where nobody else can create a name.
                with HeadlessProcess(config, stderr_dir=tmp_path) as engine:
                    assert engine.db == db
                    assert (state / "opsconsole" / "history.db.sock").is_socket()
                    started = cli(inside, tmp_path, "rollout", "start", "--history", str(db))
                    assert started.returncode == 0, started
                    wait_until(lambda: engine.snapshot().rollout.weight == 10, 10, "the rollout at 10%")
                    # discovery finds it beside the default history, and still reports the impostor
                    rolled = cli(inside, tmp_path, "rollout", "rollback", "--yes", "--reason", "page 4411")
                    assert rolled.returncode == 0, rolled
                    assert rolled.stdout.startswith("rollout.rollback: "), rolled
                    assert f"opsconsole: warning: skipped, not safe to talk to: {squatted} not looked into: " \
                           f"{squatted} belongs to uid {NOBODY} (nobody)" in rolled.stderr
                    wait_until(lambda: engine.snapshot().rollout.weight == 0, 10, "rolled back for real")
                    assert actuator.hits("/canary/rollback"), "the real actuator was called"
                    rows = db_rows(engine.db, "SELECT action, origin, ok FROM audit ORDER BY t")
                    assert rows == [("rollout.start", "cli", 1), ("rollout.rollback", "cli", 1)]
        finally:
            received = impostor.finish()
        assert received == {"connections": 0, "bytes": 0}, "the impostor was never even connected to"
    finally:
        shutil.rmtree(state, ignore_errors=True)


def test_an_impostors_runtime_dir_stops_the_engine_from_starting_and_leaves_nothing_behind(
    shared_tmp: Path, tmp_path: Path, actuator: HttpFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's own directory made first by another user: it refuses to start (exit 1, the
    sentence), before creating its log, lock or history; the CLI refuses it too."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared_tmp))  # root's, sticky, like /tmp: only its entries matter
    config = engine_config(tmp_path / "etc", actuator)
    db = tmp_path / "etc" / "history.db"
    impostor = Impostor(shared_tmp / "opsconsole", f"{db_key(db)}.sock")
    try:
        engine = HeadlessProcess(config, stderr_dir=tmp_path)
        try:
            assert engine.proc.wait(30) == 1
        finally:
            engine.kill()
        stderr = engine.stderr()
        assert stderr.startswith(
            f"opsconsole: the engine could not start: control socket: refusing to listen: {shared_tmp}/opsconsole "
            f"belongs to uid {NOBODY} (nobody), not to you ({ME})"), stderr
        assert sorted(os.listdir(tmp_path / "etc")) == ["engine.yaml"], "no log, lock or history left behind"

        refused = cli([], tmp_path, "rollout", "status", "--history", str(db))
        assert refused.returncode == 1
        assert refused.stderr.startswith(f"opsconsole: refusing to talk to the engine at {impostor.path}: "
                                         f"{shared_tmp}/opsconsole belongs to uid {NOBODY} (nobody)"), refused.stderr
    finally:
        received = impostor.finish()
    assert received == {"connections": 0, "bytes": 0}


def test_a_listener_of_another_uid_in_our_own_directory_is_refused_before_any_byte(
    shared_tmp: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the directory checks (ours, 0700), the listener's uid (SO_PEERCRED) is checked right
    after connect: the socket nobody listens on is moved into our directory (as only root could)."""
    runtime = Path(tempfile.mkdtemp(prefix="oc-rt-", dir="/tmp"))
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        ours = runtime / "opsconsole"
        ours.mkdir(mode=0o700)
        db = tmp_path / "history.db"
        impostor = Impostor(shared_tmp, "planted.sock")
        try:
            planted = ours / f"{db_key(db)}.sock"
            os.rename(impostor.path, planted)
            refused = cli([], tmp_path, "rollout", "rollback", "--yes", "--history", str(db))
            assert refused.returncode == 1
            assert refused.stderr.startswith(
                f"opsconsole: refusing to talk to the engine at {planted}: the process listening on {planted} "
                f"(pid {impostor.pid}) runs as uid {NOBODY} (nobody), not as you ({ME})"), refused.stderr
            assert "nothing was sent to it" in refused.stderr
            with fallback_view() as inside:  # discovery: only our runtime dir and an empty /tmp one
                listed = cli(inside, tmp_path, "rollout", "status")
            assert listed.returncode == 1 and "no engine is running for this user" in listed.stderr
            assert f"\nskipped, not safe to talk to: refusing to talk to the engine at {planted}: " in listed.stderr
        finally:
            received = impostor.finish()
        assert received == {"connections": 2, "bytes": 0}, "connected (to read its uid), and told nothing"
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.mark.parametrize("kind", ["symlink", "0755"])
def test_a_symlinked_or_0755_directory_is_refused_by_engine_and_cli(
    kind: str, tmp_path: Path, actuator: HttpFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = Path(tempfile.mkdtemp(prefix="oc-rt-", dir="/tmp"))
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        directory = runtime / "opsconsole"
        if kind == "symlink":
            target = runtime / "elsewhere"
            target.mkdir(mode=0o700)
            directory.symlink_to(target)
            why = f"{directory} is a symbolic link (to {target}, made by {ME}), not a directory opsconsole made"
        else:
            directory.mkdir()
            os.chmod(directory, 0o755)
            why = (f"{directory} is yours but has mode 0755, not 0700: other users can look into it; if nobody "
                   f"else put anything there, chmod 700 {directory}, then start the engine again")
        config = engine_config(tmp_path / "etc", actuator)
        engine = HeadlessProcess(config, stderr_dir=tmp_path)
        try:
            assert engine.proc.wait(30) == 1
        finally:
            engine.kill()
        assert engine.stderr().startswith(
            f"opsconsole: the engine could not start: control socket: refusing to listen: {why}"), engine.stderr()
        assert sorted(os.listdir(tmp_path / "etc")) == ["engine.yaml"]
        assert os.stat(directory).st_mode & 0o777 == (0o700 if kind == "symlink" else 0o755), "left as found"

        db = tmp_path / "etc" / "history.db"
        refused = cli([], tmp_path, "rollout", "status", "--history", str(db))
        assert refused.returncode == 1
        assert refused.stderr.startswith(
            f"opsconsole: refusing to talk to the engine at {directory}/{db_key(db)}.sock: {why}"), refused.stderr
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
