"""What the new user of examples/nginx-canary saw in the console, on a real engine (in-process)
with a real HTTP health check and a backup section with `every: 0`:

- the header's health stays UNKNOWN for the whole run although the one check with results is OK,
  because the backup check is `UNKNOWN … none yet` (now `health: OK +1 unknown`);
- the Memory panel sends them to `config.yaml` although their file is opsconsole.yaml.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from console.app import OpsConsoleApp
from console.panels.memory import where_to_watch
from engine.config.loader import load_config
from engine.runtime import Engine
from tests.httpfixtures import HttpFixture, Reply


def write_config(directory: Path, health_url: str) -> Path:
    config = directory / "opsconsole.yaml"
    config.write_text(
        f"store: {{path: {directory / 'history.db'}, flush_interval: 20ms}}\n"
        "engine: {snapshot_interval: 50ms}\n"
        "monitor: {host: {enabled: false}}\n"
        f"logging: {{file: {directory / 'opsconsole.log'}}}\n"
        f"backup: {{dir: {directory / 'backups'}, every: 0}}\n"
        f"health:\n  - {{name: app, kind: http, url: '{health_url}', interval: 1s, timeout: 1s}}\n")
    return config


async def settle(app: OpsConsoleApp, pilot, predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.refresh_now()
        await pilot.pause()
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"{what} not reached in {timeout}s; header: {app.header.plain}")


async def test_header_health_is_ok_with_the_unknown_backup_counted_and_memory_names_the_file(tmp_path: Path) -> None:
    with HttpFixture() as server:
        server.route("/health", Reply(200, "ok"))
        engine = Engine(load_config(write_config(tmp_path, server.url("/health"))))
        engine.start()
        try:
            app = OpsConsoleApp(engine, refresh=60.0)
            async with app.run_test(size=(160, 50)) as pilot:
                await settle(app, pilot, lambda: any(h.name == "app" and h.status == "OK"
                                                     for h in engine.snapshot().health), "the app check OK")
                await settle(app, pilot, lambda: "health: OK" in app.header.plain, "health: OK in the header")
                backup = [h for h in engine.snapshot().health if h.name == "backup"]
                assert backup and backup[0].status == "UNKNOWN", backup  # the case the user met
                assert "health: OK +1 unknown" in app.header.plain
                memory = " ".join(app.screen.query_one("#memory").body.plain.split())  # type: ignore[attr-defined]
                assert "processes: none watched — add monitor: processes: to opsconsole.yaml" in memory
                assert "config.yaml monitor" not in memory
        finally:
            engine.stop()


def test_the_worst_known_status_wins_and_unknown_only_when_nothing_has_a_result() -> None:
    from console.header import health_parts
    from engine.snapshot import HealthView

    def word(*statuses: str) -> str:
        return "".join(text for text, _ in health_parts(tuple(HealthView(f"c{i}", s, 0.0)
                                                               for i, s in enumerate(statuses))))

    assert word("OK", "UNKNOWN") == "health: OK +1 unknown"
    assert word("WARN", "UNKNOWN", "OK", "UNKNOWN") == "health: WARN +2 unknown"
    assert word("FAIL", "WARN") == "health: FAIL"
    assert word("UNKNOWN", "UNKNOWN") == "health: UNKNOWN"
    assert word() == ""


def test_the_built_in_defaults_name_no_file() -> None:
    assert where_to_watch("built-in defaults") == "processes: none watched — add monitor: processes: to a config file"
    assert where_to_watch("prod.yaml").endswith("to prod.yaml")
