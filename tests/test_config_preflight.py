"""`config check` refuses what the engine would refuse at start, naming the file, line and key:
a history path that is a directory or cannot be written, an unknown theme, an nginx main config
that does not exist. Run as a real `opsconsole config check` process, as an operator would."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

import pytest

from tests.ptyrun import opsconsole_argv

NOBODY = 65534


def config_check(config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(config.parent), "XDG_STATE_HOME": str(config.parent / "state")}
    return subprocess.run([*opsconsole_argv(), "config", "check", str(config)], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


def config_check_as_nobody(config: Path) -> tuple[int, str]:
    """`config check` in a forked child that became user nobody: root may write anywhere, and
    nobody cannot exec this checkout's Python (it lives under /root), but a fork needs no exec."""
    from console.cli import main
    from engine import preflight
    from engine.config import lookup
    from engine.config.loader import load_config

    # Everything the child imports, imported now: as nobody it cannot read this Python's stdlib.
    preflight.preflight(load_config(lookup.locate_config(str(config)).path, env={}))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, run the command, send back its exit code and stderr
        code = 70
        try:
            sys.stderr = os.fdopen(write_end, "w", encoding="utf-8")  # pytest captures the parent's
            os.setgid(NOBODY)
            os.setgroups([])
            os.setuid(NOBODY)
            code = main(["config", "check", str(config)])
        except BaseException:  # said to the parent through the pipe, which fails the test with it
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, encoding="utf-8", errors="replace") as pipe:
        stderr = pipe.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), stderr


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_history_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    config = write(tmp_path / "opsconsole.yaml", f"ui:\n  refresh: 1s\nstore:\n  path: {tmp_path}\n")
    done = config_check(config)
    assert done.returncode == 2, done
    assert f"{config}:4: store.path: {tmp_path} is a directory: set store.path to a file, e.g. " \
           f"{tmp_path / 'history.db'}" in done.stderr


def test_a_history_under_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    config = write(tmp_path / "opsconsole.yaml", f"store:\n  path: {tmp_path / 'afile' / 'history.db'}\n")
    done = config_check(config)
    assert done.returncode == 2, done
    assert f"{config}:2: store.path: cannot create {tmp_path / 'afile' / 'history.db'}: " \
           f"{tmp_path / 'afile'} is not a directory" in done.stderr


def test_a_history_in_a_directory_this_user_cannot_write_is_refused() -> None:
    # Not under tmp_path: pytest's base directory is 0700, and the check may run as nobody.
    shared = Path(tempfile.mkdtemp(prefix="opsconsole-preflight-"))
    try:
        os.chmod(shared, 0o755)
        locked = shared / "locked"
        locked.mkdir(mode=0o555)
        config = write(shared / "opsconsole.yaml", f"store:\n  path: {locked / 'sub' / 'history.db'}\n")
        if os.geteuid() == 0:
            code, stderr = config_check_as_nobody(config)
        else:
            done = config_check(config)
            code, stderr = done.returncode, done.stderr
    finally:
        os.chmod(shared / "locked", 0o755)
        shutil.rmtree(shared)
    assert code == 2, stderr
    assert f"{config}:2: store.path: cannot create {locked / 'sub' / 'history.db'}: {locked} is not writable " \
           "by this user" in stderr, stderr


def test_the_engine_refuses_the_same_history_the_same_way(tmp_path: Path) -> None:
    from engine.store import paths
    from engine.store.errors import StoreError

    with pytest.raises(StoreError) as caught:
        paths.prepare(tmp_path)
    assert str(caught.value) == f"store.path {paths.unusable(tmp_path)}"


def test_an_unknown_theme_is_refused_with_the_choices(tmp_path: Path) -> None:
    config = write(tmp_path / "opsconsole.yaml", "ui:\n  theme: dracula\n")
    done = config_check(config)
    assert done.returncode == 2, done
    assert (f"{config}:2: ui.theme: unknown theme 'dracula': use one of opsconsole-16, opsconsole-colorblind, opsconsole-dark, "
            "opsconsole-high-contrast, opsconsole-light (the files in themes/)") in done.stderr


def test_an_nginx_main_config_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    config = write(tmp_path / "opsconsole.yaml", f"""\
canary:
  service: checkout
  stages: [{{weight: 100}}]
  actuator:
    kind: nginx
    upstream_file: {tmp_path / 'upstream.conf'}
    upstream: checkout
    stable: [127.0.0.1:8481]
    canary: [127.0.0.1:8482]
    main_config: {tmp_path / 'nginx.conf'}
""")
    done = config_check(config)
    assert done.returncode == 2, done
    assert f"{config}:10: canary.actuator.main_config: {tmp_path / 'nginx.conf'} does not exist" in done.stderr


def test_a_good_config_passes_and_creates_nothing(tmp_path: Path) -> None:
    history = tmp_path / "state" / "new" / "history.db"
    config = write(tmp_path / "opsconsole.yaml", f"store:\n  path: {history}\nui:\n  theme: opsconsole-light\n")
    done = config_check(config)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout
    assert not history.parent.exists()  # a check, not a start


def test_a_history_on_a_read_only_filesystem_is_refused(tmp_path: Path) -> None:
    """A real read-only mount, in a private mount namespace (unshare -m: root, or user namespaces)."""
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    config = write(tmp_path / "opsconsole.yaml", f"store:\n  path: {mount_point / 'sub' / 'history.db'}\n")
    argv = " ".join(shlex.quote(a) for a in [*opsconsole_argv(), "config", "check", str(config)])
    done = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o ro none {shlex.quote(str(mount_point))}"
                           f" || exit 77; {argv}"], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode == 77 or "unshare failed" in done.stderr:
        pytest.skip(f"cannot mount a read-only filesystem here: {done.stderr.strip()[:200]}")
    assert done.returncode == 2, done
    assert (f"{config}:2: store.path: cannot create {mount_point / 'sub' / 'history.db'}: {mount_point} is on a "
            "read-only filesystem") in done.stderr
