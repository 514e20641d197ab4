"""The whole demo, started and stopped as one: two versions, the router, load and inbox files.

`DemoService` is synchronous and thread-based (every blocking call lives in its own threads), so
the engine's component wraps `start()` / `stop()` in `asyncio.to_thread` and the standalone entry
(`python -m engine.demo`) calls them directly.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from engine.component import ComponentError
from engine.config.schema import DemoConfig
from engine.demo.accesslog import MAX_BYTES, AccessLog
from engine.demo.files import ensure_private_dir
from engine.demo.httpserver import format_hostport
from engine.demo.inbox import InboxWriter
from engine.demo.loadgen import LoadGenerator, LoadSample
from engine.demo.router import RouterServer
from engine.demo.scenario import CanaryFailsScenario
from engine.demo.state import VERSIONS, DemoState, Faults
from engine.demo.versions import VersionServer

T = TypeVar("T")

log = logging.getLogger("opsconsole.demo")


class DemoService:
    """Start with `start()` (or `with DemoService(cfg) as demo:`); every part is reachable for tests."""

    def __init__(
        self,
        config: DemoConfig,
        *,
        on_change: Callable[[str], None] | None = None,
        access_log_max_bytes: int = MAX_BYTES,
    ) -> None:
        self.config = config
        configured = {"baseline": config.faults.baseline, "canary": config.faults.canary}
        try:
            self.state = DemoState(
                config.canary_weight,
                {name: Faults(f.error_rate, f.latency) for name, f in configured.items()},
                on_change=on_change,
            )
        except ValueError as exc:
            raise ComponentError(f"demo: {exc}") from None
        self.scenario = CanaryFailsScenario.attach(self.state, config.scenario)  # demo.scenario: the rollout story
        self.access_log_max_bytes = access_log_max_bytes
        self.versions: dict[str, VersionServer] = {}
        self.router: RouterServer | None = None
        self.access_log: AccessLog | None = None
        self.loadgen: LoadGenerator | None = None
        self.inbox: InboxWriter | None = None
        self._started = False

    # -- where things are --------------------------------------------------------------------

    @property
    def directory(self) -> Path:
        return self.config.dir

    @property
    def access_log_path(self) -> Path:
        return self.config.dir / "access.json"

    @property
    def inbox_dir(self) -> Path:
        return self.config.dir / "inbox"

    @property
    def ports(self) -> dict[str, int]:
        found = {name: server.port for name, server in self.versions.items()}
        if self.router is not None:
            found["router"] = self.router.port
        return found

    def _url(self, port: int) -> str:
        return f"http://{format_hostport(self.config.host, port)}"

    @property
    def router_url(self) -> str:
        return self._url(self._require(self.router).port)

    @property
    def baseline_url(self) -> str:
        return self._url(self._require(self.versions.get("baseline")).port)

    @property
    def canary_url(self) -> str:
        return self._url(self._require(self.versions.get("canary")).port)

    @staticmethod
    def _require(server: Any) -> Any:
        if server is None:
            raise RuntimeError("the demo service is not started")
        return server

    # -- the knobs ---------------------------------------------------------------------------

    @property
    def canary_weight(self) -> int:
        return self.state.canary_weight

    def set_canary_weight(self, weight: int) -> int:
        """Route `weight` % of requests to canary (0..100); ValueError with the reason otherwise."""
        return self.state.set_canary_weight(weight)

    def set_faults(
        self, version: str, error_rate: float | None = None, latency: float | str | None = None
    ) -> Faults:
        """Change one version's faults (None keeps a field); latency is seconds or "200ms"."""
        return self.state.set_faults(version, error_rate=error_rate, latency=latency)

    def faults(self, version: str) -> Faults:
        return self.state.faults(version)

    def take_sample(self) -> LoadSample | None:
        """What the load generator measured since the last call; None when it does not run (rps 0)."""
        return self.loadgen.take_window() if self.loadgen is not None else None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Bind everything, then start every thread. On failure nothing is left running."""
        if self._started:
            raise RuntimeError("the demo service is already started")
        self._started = True
        config = self.config
        try:
            try:
                ensure_private_dir(config.dir)
            except OSError as exc:
                raise ComponentError(f"demo: cannot create {config.dir}: {exc.strerror or exc}") from None
            for name in VERSIONS:
                port = getattr(config, f"{name}_port")
                self.versions[name] = self._bind(
                    f"demo.{name}_port", port, partial(VersionServer, name, self.state, config.host, port)
                )
            self.access_log = AccessLog(self.access_log_path, self.access_log_max_bytes)
            upstreams = {name: (config.host, server.port) for name, server in self.versions.items()}
            self.router = self._bind_router(upstreams)
            for server in self.versions.values():
                server.start()
            self.router.start()
            if config.rps > 0:
                self.loadgen = LoadGenerator(config.host, self.router.port, config.rps)
                self.loadgen.start()
            self.inbox = InboxWriter(self.inbox_dir, config.inbox_every, config.inbox_keep)
            self.inbox.start()
        except OSError as exc:  # the state directory, the access log, the inbox: name what failed
            self.stop()
            where = f" {exc.filename}" if exc.filename else ""
            raise ComponentError(f"demo: cannot start: {exc.strerror or exc}{where}") from None
        except BaseException:
            self.stop()
            raise
        log.info("demo: router %s, baseline %s, canary %s", self.router_url, self.baseline_url, self.canary_url)

    def _bind_router(self, upstreams: Mapping[str, tuple[str, int]]) -> RouterServer:
        access_log = self.access_log
        assert access_log is not None
        host, port = self.config.host, self.config.port
        return self._bind("demo.port", port, lambda: RouterServer(self.state, upstreams, access_log, host, port))

    def _bind(self, key: str, port: int, make: Callable[[], T]) -> T:
        """Create a listening server; a bind failure is a sentence naming the config key."""
        try:
            return make()
        except OSError as exc:
            where = format_hostport(self.config.host, port)
            if exc.errno == errno.EADDRINUSE:
                raise ComponentError(
                    f"demo: cannot listen on {where}: address already in use — "
                    f"set {key} to a free port, or 0 to pick one"
                ) from None
            raise ComponentError(f"demo: cannot listen on {where}: {exc.strerror or exc}") from None

    def stop(self) -> None:
        """Stop everything and join every thread; idempotent, safe after a failed start."""
        # First let in-flight requests finish now (injected latency cut short), so that waiting
        # for them below takes milliseconds, not the injected latency.
        for server in self.versions.values():
            server.begin_stop()
        if self.loadgen is not None:
            self.loadgen.stop()
        if self.inbox is not None:
            self.inbox.stop()
        if self.router is not None:
            self.router.stop()
        for server in self.versions.values():
            server.stop()
        if self.access_log is not None:
            self.access_log.close()

    def __enter__(self) -> DemoService:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
