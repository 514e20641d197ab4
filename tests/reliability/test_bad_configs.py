"""Drill 5: a corpus of bad configs, each run through the real CLI as an operator would.

Every case must: exit 2 before starting anything, print the problem as
`FILE:LINE: key: message` (the exact line, from bad_configs/expected.tsv), and write nothing —
no state dir, no database, no log file — even for `--headless`, which would create all of them.

The corpus is one YAML file per case in bad_configs/; the cases that cannot be a file in the
repository (unreadable, a directory, a path under a file, a bad environment override) are made here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ptyrun import PtyProcess, opsconsole_argv

CORPUS = Path(__file__).resolve().parent / "bad_configs"
REPO = Path(__file__).resolve().parents[2]
EXIT_CONFIG = 2
TIMEOUT = 30  # seconds: a shared 2-core machine


@dataclass(frozen=True)
class Expected:
    line: int
    key: str | None
    message: str

    def problem(self, file: Path) -> str:
        key = f"{self.key}: " if self.key else ""
        return f"{file}:{self.line}: {key}{self.message}"


def read_table() -> dict[str, Expected]:
    table: dict[str, Expected] = {}
    for row in (CORPUS / "expected.tsv").read_text(encoding="utf-8").splitlines():
        if row and not row.startswith("#"):
            case, line, key, message = row.split("\t")
            table[case] = Expected(int(line), None if key == "-" else key, message)
    return table


TABLE = read_table()
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))


def test_the_corpus_and_its_table_match() -> None:
    assert len(CASES) >= 30
    assert sorted(TABLE) == CASES
    assert CHECKED_TOO <= set(CASES)


@pytest.fixture
def workspace(tmp_path: Path) -> dict[str, Path]:
    """An empty state dir, and a config dir and cwd that must stay as they are."""
    state, config_dir, cwd = tmp_path / "state", tmp_path / "conf", tmp_path / "cwd"
    for path in (state, config_dir, cwd):
        path.mkdir()
    return {"state": state, "config_dir": config_dir, "cwd": cwd}


def child_env(state: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSCONSOLE_")}
    env.update(XDG_STATE_HOME=str(state), PYTHONPATH=str(REPO), **extra)
    return env


def run_both(config: Path, workspace: dict[str, Path], env: dict[str, str], prefix: list[str] = (),
             check: bool = True) -> list[subprocess.CompletedProcess]:
    """`--headless --config F` (the command that would create a state dir, database, log and socket)
    and, with `check`, `config check F`; started together (the suite's time budget)."""
    commands = [["--headless", "--config", str(config)]] + ([["config", "check", str(config)]] if check else [])
    procs = [
        subprocess.Popen([*prefix, *opsconsole_argv(*args)], cwd=workspace["cwd"], env=env, text=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for args in commands
    ]
    results = []
    for args, proc in zip(commands, procs, strict=True):
        out, err = proc.communicate(timeout=TIMEOUT)
        results.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    return results


def assert_refused(results: list[subprocess.CompletedProcess], problem: str, workspace: dict[str, Path], config_dir_before: set[str]) -> None:
    for result in results:
        where = " ".join(result.args)
        assert result.returncode == EXIT_CONFIG, f"{where}: exit {result.returncode}\n{result.stderr}"
        lines = result.stderr.splitlines()
        assert lines[0] == "opsconsole: bad configuration:", f"{where}:\n{result.stderr}"
        assert problem in lines[1:], f"{where}: wanted the line\n  {problem}\ngot\n{result.stderr}"
        assert "Traceback" not in result.stderr
        assert result.stdout == ""
    assert list(workspace["state"].iterdir()) == [], "a refused config created state"
    assert list(workspace["cwd"].iterdir()) == [], "a refused config wrote into the current directory"
    assert {p.name for p in workspace["config_dir"].iterdir()} == config_dir_before


# `config check` prints through the same loader call as --headless; a sample of kinds keeps the
# corpus within the suite's time budget (every case still goes through the real CLI once).
CHECKED_TOO = {"syntax_unclosed_bracket", "not_utf8", "unknown_key_typo", "missing_env_secret",
               "canary_weights_out_of_order", "nan_size", "key_with_space"}


@pytest.mark.parametrize("case", CASES)
def test_bad_config_is_refused_before_anything_starts(case: str, workspace: dict[str, Path]) -> None:
    config = workspace["config_dir"] / f"{case}.yaml"
    shutil.copyfile(CORPUS / f"{case}.yaml", config)
    results = run_both(config, workspace, child_env(workspace["state"]), check=case in CHECKED_TOO)
    assert_refused(results, TABLE[case].problem(config), workspace, {config.name})


GOOD = "store: {path: history.db}\nlogging: {file: opsconsole.log}\n"


def test_a_directory_instead_of_a_file(workspace: dict[str, Path]) -> None:
    config = workspace["config_dir"] / "config.yaml"
    config.mkdir()
    results = run_both(config, workspace, child_env(workspace["state"]))
    assert_refused(results, f"config file '{config}' is a directory, not a file", workspace, {"config.yaml"})


def test_a_path_under_a_file(workspace: dict[str, Path]) -> None:
    parent = workspace["config_dir"] / "settings"
    parent.write_text(GOOD)
    config = parent / "config.yaml"
    results = run_both(config, workspace, child_env(workspace["state"]))
    assert_refused(results, f"config file '{config}' (from --config) does not exist", workspace, {"settings"})


def test_a_missing_file(workspace: dict[str, Path]) -> None:
    config = workspace["config_dir"] / "confg.yaml"
    results = run_both(config, workspace, child_env(workspace["state"]))
    assert_refused(results, f"config file '{config}' (from --config) does not exist", workspace, set())


def test_an_unreadable_file(workspace: dict[str, Path]) -> None:
    config = workspace["config_dir"] / "config.yaml"
    config.write_text(GOOD)
    config.chmod(0o000)
    prefix: list[str] = []
    if os.geteuid() == 0:  # root reads anything: drop the capabilities that let it ignore modes
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable to us")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    results = run_both(config, workspace, child_env(workspace["state"]), prefix)
    assert_refused(results, f"cannot read config file '{config}': permission denied", workspace, {"config.yaml"})


def test_a_bad_environment_override(workspace: dict[str, Path]) -> None:
    config = workspace["config_dir"] / "config.yaml"
    config.write_text(GOOD)
    env = child_env(workspace["state"], OPSCONSOLE_UI__REFRESH="0s")
    results = run_both(config, workspace, env)
    assert_refused(results, "env OPSCONSOLE_UI__REFRESH: ui.refresh: must be greater than 0, got 0s",
                   workspace, {"config.yaml"})


@pytest.mark.parametrize("case", ["unknown_key_typo", "canary_weight_over_100", "syntax_unclosed_bracket"])
def test_the_console_in_a_terminal_refuses_too(case: str, workspace: dict[str, Path]) -> None:
    """`opsconsole --config F` in a real terminal: the problem on screen, exit 2, no TUI, nothing written."""
    config = workspace["config_dir"] / f"{case}.yaml"
    shutil.copyfile(CORPUS / f"{case}.yaml", config)
    env = child_env(workspace["state"], TERM="xterm-256color")
    chdir_then_run = "import os, sys; os.chdir(sys.argv[1]); os.execv(sys.executable, [sys.executable, '-m', 'console', *sys.argv[2:]])"
    proc = PtyProcess([sys.executable, "-c", chdir_then_run, str(workspace["cwd"]), "--config", str(config)], env=env)
    try:
        proc.read_for(TIMEOUT)  # returns as soon as the child has exited
        assert proc.poll() == EXIT_CONFIG, proc.text()
    finally:
        proc.kill()
    assert TABLE[case].problem(config) in proc.text().splitlines()
    assert "\x1b[?1049h" not in bytes(proc.output).decode("utf-8", "replace"), "the TUI started"
    assert list(workspace["state"].iterdir()) == [] and list(workspace["cwd"].iterdir()) == []
