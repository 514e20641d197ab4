"""Shared fixtures. Every test runs with its own HOME and XDG dirs, so a developer's own config,
state and logs are never read or written (and a test cannot pass because of them)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Fixtures shared by modules without importing them (an imported fixture is shadowed by the
# parameter that requests it: ruff F811).
pytest_plugins = ["tests.enginefixtures"]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    for name in ("OPSCONSOLE_CONFIG", "OPSCONSOLE_PROFILE", "SSH_CLIENT", "SSH_CONNECTION"):
        monkeypatch.delenv(name, raising=False)
    import os

    for name in list(os.environ):
        if name.startswith("OPSCONSOLE_"):
            monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def actuator():  # -> Iterator[HttpFixture]
    """The HTTP actuator of headlessfixtures.canary_section: a test server on 127.0.0.1 that
    answers 200 to set-weight, rollback and promote, and records every call."""
    from tests.httpfixtures import HttpFixture, Reply

    with HttpFixture() as server:
        for path in ("/canary/enable", "/canary/rollback", "/canary/promote"):
            server.route(path, Reply(200, "ok"))
        yield server
