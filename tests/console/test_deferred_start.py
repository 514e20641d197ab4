"""The console's own engine starts behind the first frame (console/app.py `starter`): the panels
are painted from the STARTING snapshot first, the started engine's snapshot is applied as soon as
it is up (not a refresh period later), the refresh timer keeps running, and a start that fails
ends the console with the error kept for cli.py to print."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace

from console_fakes import FakeSource

from engine.snapshot import EngineState


async def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_panels_paint_before_the_engine_starts_and_refresh_after(make_app, source: FakeSource) -> None:
    source.current = replace(source.current, state=EngineState.STARTING)
    painted_first = threading.Event()
    release = threading.Event()

    def start() -> None:
        painted_first.set()
        assert release.wait(10)
        source.current = replace(source.current, state=EngineState.RUNNING)

    app = make_app(refresh=0.2, starter=start)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(painted_first.is_set)
        assert app.snapshot is not None and app.snapshot.state is EngineState.STARTING
        assert "STARTING" in app.header.plain
        assert app.query_one("#throughput").body.plain  # the panels are there, with what the snapshot holds
        release.set()
        await wait_for(lambda: app.snapshot is not None and app.snapshot.state is EngineState.RUNNING)
        await pilot.pause()
        assert "RUNNING" in app.header.plain
        calls = source.snapshot_calls
        await wait_for(lambda: source.snapshot_calls >= calls + 2)  # the refresh timer still runs
        assert app.start_error is None


async def test_a_failed_start_ends_the_console_and_keeps_the_error(make_app) -> None:
    def start() -> None:
        raise OSError("no room")

    app = make_app(starter=start)
    async with app.run_test(size=(120, 40)):
        await wait_for(lambda: app.start_error is not None)
        await wait_for(lambda: app.exit_reason is not None)
    assert isinstance(app.start_error, OSError) and app.exit_reason == "the engine could not start"
    assert app.start_thread is not None
