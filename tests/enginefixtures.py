"""An in-process Engine on a small, quick config in tmp_path, stopped at the end of the test.

    def test_x(start_engine):
        engine = start_engine(extra="export: {prometheus: {}}\n", components=[feeder])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import pytest

from engine.component import Component
from engine.config.loader import load_config
from engine.control.client import ControlClient, ControlRefused, ControlUnavailable
from engine.runtime import Engine
from tests.headlessfixtures import wait_until

QUICK = (
    "store: {{path: {db}, flush_interval: 20ms}}\n"
    "engine: {{snapshot_interval: 50ms, supervisor: {{backoff_initial: 50ms, backoff_max: 200ms}}}}\n"
    "monitor: {{host: {{enabled: false}}}}\n"
    "logging: {{file: opsconsole.log}}\n"
)


class StartEngine(Protocol):
    def __call__(self, extra: str = "", *, components: Sequence[Component] = (), db: str = "history.db",
                 headless: bool = False) -> Engine: ...


def control_answers(db: Path, timeout: float = 10.0) -> None:
    """Wait until the engine on `db` answers on its control socket (it binds just after start)."""

    def answers() -> bool:
        try:
            with ControlClient(db) as client:
                client.hello()
            return True
        except (ControlUnavailable, ControlRefused):
            return False

    wait_until(answers, timeout, f"the control socket of {db.name} answering")


@pytest.fixture
def start_engine(tmp_path: Path) -> Iterator[StartEngine]:
    engines: list[Engine] = []

    def start(extra: str = "", *, components: Sequence[Component] = (), db: str = "history.db",
              headless: bool = False) -> Engine:
        path = tmp_path / f"{Path(db).stem}.yaml"
        path.write_text(QUICK.format(db=db) + extra)
        engine = Engine(load_config(path), components=list(components), headless=headless)
        engine.start()
        engines.append(engine)
        return engine

    yield start
    for engine in engines:
        engine.stop()


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    """A small demo config (5 requests/s, host every 1 s, a log file) in a test's own directory."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "store: {path: history.db}\n"
        "demo: {enabled: true, port: 0, rps: 5, dir: demo}\n"
        "monitor: {host: {interval: 1s}}\n"
        "logging: {file: opsconsole.log}\n"
    )
    return path
