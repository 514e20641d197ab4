"""The start-up freeze of Python's collector (engine/heap.py): the program's own engine freezes its
start-up objects once running; an engine embedded in another program (this test process) does not."""

from __future__ import annotations

import gc
import json
import re
from pathlib import Path

from tests.headlessfixtures import FAST, HeadlessProcess, wait_until


def test_a_headless_engine_freezes_its_start_up_objects_once_running(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(FAST)

    def frozen_line() -> str | None:
        log = config.parent / "opsconsole.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return next((json.loads(line)["message"] for line in lines if "frozen for the collector" in line), None)

    with HeadlessProcess(config) as engine:
        message = wait_until(frozen_line, 15, "the freeze's log line")
        assert engine.stop() == 0
    count = int(re.search(r"(\d+)$", message).group(1))  # type: ignore[union-attr]
    assert count > 10_000, message  # the config schema, the engine, the interpreter's own modules


def test_an_embedded_engine_leaves_the_host_programs_collector_alone(start_engine) -> None:
    before = gc.get_freeze_count()
    engine = start_engine()  # tests/enginefixtures.py: Engine(...) as a program embedding it builds one
    assert engine.snapshot().state.value == "running"
    assert gc.get_freeze_count() == before
