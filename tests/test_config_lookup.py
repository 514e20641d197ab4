"""Which config opsconsole reads (engine/config/lookup.py), through the real CLI: --config,
$OPSCONSOLE_CONFIG, ./opsconsole.yaml, ~/.config/opsconsole/config.yaml, then the built-in demo;
a foreign ./config.yaml is never read. Each command says which file it used and why."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from engine.config.lookup import BUILTIN_DEMO
from tests.conftest import REPO
from tests.headlessfixtures import free_port
from tests.ptyrun import PtyProcess, opsconsole_argv

COMPOSE = "services:\n  web:\n    image: nginx:1.27\n    ports: ['8080:80']\n"  # a docker-compose file


def opsconsole(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(opsconsole_argv(*args), check=False, cwd=cwd, env=dict(os.environ, **env),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    """A project directory of something else: its own config.yaml is a docker-compose file."""
    work = tmp_path / "project"
    work.mkdir()
    (work / "config.yaml").write_text(COMPOSE)
    return work


def config_file(path: Path, refresh: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"ui: {{refresh: {refresh}}}\n")
    return path


def test_the_built_in_demo_is_the_root_config_shipped_in_the_package() -> None:
    assert BUILTIN_DEMO.resolve() == (REPO / "config.yaml").resolve(), "one file: the package's is the root's"
    assert BUILTIN_DEMO.read_bytes() == (REPO / "config.yaml").read_bytes()


def test_a_foreign_config_yaml_in_the_current_directory_is_ignored(cwd: Path) -> None:
    checked = opsconsole(cwd, "config", "check")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("built-in demo ("), checked.stdout
    shown = opsconsole(cwd, "config", "show")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("# effective config from built-in demo (")
    assert "demo:\n  enabled: true" in shown.stdout and "image: nginx" not in shown.stdout


def test_opsconsole_yaml_in_the_current_directory_is_used(cwd: Path) -> None:
    config_file(cwd / "opsconsole.yaml", "3s")
    shown = opsconsole(cwd, "config", "show")
    assert shown.stdout.startswith("# effective config from ./opsconsole.yaml (found in the current directory)\n")
    assert "refresh: 3s" in shown.stdout
    checked = opsconsole(cwd, "config", "check")
    assert checked.stdout == "./opsconsole.yaml (found in the current directory): OK\n"


def test_the_user_config_comes_after_the_current_directory(cwd: Path, isolated_home: Path) -> None:
    config_file(isolated_home / ".config" / "opsconsole" / "config.yaml", "4s")
    checked = opsconsole(cwd, "config", "check")
    assert checked.stdout == "~/.config/opsconsole/config.yaml (your user config): OK\n", checked
    config_file(cwd / "opsconsole.yaml", "3s")
    assert "refresh: 3s" in opsconsole(cwd, "config", "show").stdout


def test_the_variable_wins_over_opsconsole_yaml_and_config_over_all(cwd: Path, tmp_path: Path) -> None:
    config_file(cwd / "opsconsole.yaml", "3s")
    from_env = config_file(tmp_path / "env.yaml", "5s")
    explicit = config_file(tmp_path / "explicit.yaml", "7s")

    shown = opsconsole(cwd, "config", "show", OPSCONSOLE_CONFIG=str(from_env))
    assert shown.stdout.startswith(f"# effective config from {from_env} (from $OPSCONSOLE_CONFIG)\n")
    assert "refresh: 5s" in shown.stdout
    shown = opsconsole(cwd, "config", "show", "--config", str(explicit), OPSCONSOLE_CONFIG=str(from_env))
    assert shown.stdout.startswith(f"# effective config from {explicit} (given on the command line)\n")
    assert "refresh: 7s" in shown.stdout
    checked = opsconsole(cwd, "config", "check", str(explicit), OPSCONSOLE_CONFIG=str(from_env))
    assert checked.stdout == f"{explicit} (given on the command line): OK\n"


def test_a_named_config_that_is_missing_is_an_error_not_the_demo(cwd: Path) -> None:
    missing = opsconsole(cwd, "config", "check", OPSCONSOLE_CONFIG="gone.yaml")
    assert missing.returncode == 2
    assert "config file 'gone.yaml' (from OPSCONSOLE_CONFIG) does not exist" in missing.stderr


def test_the_demo_opens_beside_a_foreign_config_yaml_and_the_header_says_so(cwd: Path) -> None:
    ports = {f"OPSCONSOLE_DEMO__{key}": str(free_port()) for key in ("PORT", "BASELINE_PORT", "CANARY_PORT")}
    # `env -C`: PtyProcess has no cwd; the console must start in the other project's directory.
    console = PtyProcess(["env", "-C", str(cwd), *opsconsole_argv()], env=dict(os.environ, TERM="xterm-256color", **ports))
    try:
        console.wait_for_text("opsconsole · RUNNING · built-in demo · demo 10%", timeout=30)  # the demo's rollout
        console.send(b"q")
        assert console.wait(timeout=20) == 0, console.text()[-2000:]
    finally:
        console.kill()


# ---------------------------------------------------------------------------------------------
# store.path alone (engine/config/storepath.py): what the rollout verbs and attach read


def test_store_path_follows_the_loaders_rules_for_that_one_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine.config.loader import load_config
    from engine.config.storepath import store_path

    monkeypatch.setenv("STATE", str(tmp_path / "state"))
    config = tmp_path / "etc" / "ops.yaml"
    config.parent.mkdir()
    config.write_text(
        "store: {path: history.db}\n"
        "export: {alertmanager: {urls: ['http://127.0.0.1:9'], headers: {Authorization: 'Bearer ${UNSET_TOKEN}'}}}\n"
        "profiles:\n  prod: {store: {path: '${STATE}/prod.db'}}\n  home: {store: {path: ~/h.db}}\n  ui: {ui: {refresh: 2s}}\n"
    )
    assert store_path(config, env=os.environ) == tmp_path / "etc" / "history.db"  # the unset token: not needed
    assert store_path(config, "prod", os.environ) == tmp_path / "state" / "prod.db"
    assert store_path(config, "home", os.environ) == Path.home() / "h.db"
    assert store_path(config, "ui", os.environ) == tmp_path / "etc" / "history.db"  # the base's
    assert store_path(config, env={**os.environ, "OPSCONSOLE_PROFILE": "prod"}) == tmp_path / "state" / "prod.db"
    monkeypatch.chdir(tmp_path)
    assert store_path(config, "prod", {**os.environ, "OPSCONSOLE_STORE__PATH": "x/y.db"}) == tmp_path / "x" / "y.db"
    # where the loader, given the secret, puts the history too
    monkeypatch.setenv("UNSET_TOKEN", "t")
    for profile in (None, "prod", "home"):
        assert store_path(config, profile, os.environ) == load_config(config, profile).config.store.path


def test_store_path_default_is_the_schemas(tmp_path: Path) -> None:
    from engine.config.schema import StoreConfig
    from engine.config.storepath import store_path

    config = tmp_path / "ops.yaml"
    config.write_text("ui: {refresh: 2s}\n")
    assert store_path(config, env=os.environ) == StoreConfig().path


def test_store_path_errors_name_the_file_and_key(tmp_path: Path) -> None:
    from engine.config.errors import ConfigError
    from engine.config.storepath import store_path

    config = tmp_path / "ops.yaml"
    config.write_text("store: {path: '${NOPE}/h.db'}\nprofiles: {prod: {}}\n")
    with pytest.raises(ConfigError, match=r"ops.yaml: store.path: environment variable NOPE is not set$"):
        store_path(config, env={})
    with pytest.raises(ConfigError, match=r"ops.yaml: profile 'staging' not found \(available: prod\)$"):
        store_path(config, "staging", env={})
    config.write_text("store: {path: 42}\n")
    with pytest.raises(ConfigError, match=r"ops.yaml: store.path: expected a file path, got 42$"):
        store_path(config, env={})
    config.write_text("store: {path: [\n")
    with pytest.raises(ConfigError, match=r"ops.yaml:"):
        store_path(config, env={})


def test_the_header_names_the_config_as_the_cli_found_it() -> None:
    import time

    from console.header import config_name
    from engine.snapshot import EngineState, Snapshot, SourceMode

    live = Snapshot(taken_at=time.time(), mode=SourceMode.LIVE, state=EngineState.RUNNING, config_name="config.yaml")
    assert config_name(live, "built-in demo") == "built-in demo"
    assert config_name(live, "./opsconsole.yaml") == "./opsconsole.yaml"
    assert config_name(live, "opsconsole") == "config.yaml"  # the app's default title names nothing
    attached = Snapshot(taken_at=time.time(), mode=SourceMode.ATTACH, state=EngineState.RUNNING,
                        config_name="config.yaml · attached")
    assert config_name(attached, "attach history.db") == "config.yaml · attached"
