"""`opsconsole --headless`: the engine alone, on the main thread, until a signal stops it.

- SIGTERM / SIGINT: a clean stop (components stopped, the store flushed and closed, "engine
  stopped" recorded), exit 0. A running rollout is left running: nobody's terminal went away
  (the canary is built with pause_on_stop=False in headless mode). A second signal while stopping
  is only logged: the stop is already bounded by the supervisor's timeouts.
- SIGHUP: reload the config. The new file is validated first (off the loop); a bad one is
  rejected with its reasons logged and recorded as a warning event, and the running config is
  kept. A good one restarts the components with it (`Engine.reload`; what is and is not
  reloadable is documented there and in docs/headless.md). Reloads never overlap: a SIGHUP during
  a reload is queued and runs after it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from engine import eventcodes as ev
from engine.config.loader import ConfigError, LoadedConfig
from engine.runtime import Engine

log = logging.getLogger("opsconsole.headless")

ConfigLoader = Callable[[], LoadedConfig]  # re-reads the file the engine was started with; ConfigError if bad


async def serve_headless(engine: Engine, load_config: ConfigLoader) -> None:
    """Run `engine` on this loop until SIGTERM/SIGINT; SIGHUP reloads through `load_config`."""
    loop = asyncio.get_running_loop()
    reloads = _Reloader(engine, load_config)
    stopping = False

    def on_stop(signum: int) -> None:
        nonlocal stopping
        name = signal.Signals(signum).name
        if stopping:
            log.warning("%s received while already stopping", name)
            return
        stopping = True
        log.info("%s received: stopping the engine", name)
        engine.stop(timeout=0)  # sets the engine's stop event; serve() below returns when done

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_stop, signum)
    loop.add_signal_handler(signal.SIGHUP, reloads.request)
    try:
        await engine.serve()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        reloads.cancel()


class _Reloader:
    def __init__(self, engine: Engine, load_config: ConfigLoader) -> None:
        self.engine = engine
        self.load_config = load_config
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def request(self) -> None:
        log.info("SIGHUP received: reloading the config")
        if self._task is not None and not self._task.done():
            self._again = True  # one more pass after the current one, with the file as it is then
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="config-reload")

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        while True:
            self._again = False
            await self._reload_once()
            if not self._again:
                return

    async def _reload_once(self) -> None:
        engine = self.engine
        if not engine.running:
            log.warning("config reload ignored: the engine is not running")
            return
        try:
            loaded = await asyncio.to_thread(self.load_config)
        except ConfigError as err:
            engine.event(ev.CONFIG_REJECTED, "warning", "engine",
                         f"config reload rejected, the running config is kept:\n{err}", {"error": str(err)})
            return
        except OSError as err:
            engine.event(ev.CONFIG_REJECTED, "warning", "engine",
                         f"config reload rejected, the running config is kept: {err.strerror or err}",
                         {"error": str(err.strerror or err)})
            return
        try:
            await engine.reload(loaded)
        except Exception:  # a bug in a part's rebuild: the engine must stay up and say so
            log.exception("config reload failed")
            engine.event(ev.CONFIG_RELOAD_FAILED, "critical", "engine", "config reload failed (see the log); components may be down")
