"""The engine's entry point into watching: one supervised component per configured source, so a
source that crashes is restarted alone while the others keep going.

A directory source is imported only when one is configured: it brings watchfiles (a Rust
extension) and anyio, which a config watching only logs never uses (0.3 MB of RSS on bench/tui_cost.py --real)."""

from __future__ import annotations

from collections.abc import Iterable

from engine.component import Component
from engine.watch.config import WatchSourceConfig
from engine.watch.logsource import LogSource


def build_sources(sources: Iterable[WatchSourceConfig]) -> list[Component]:
    return [_directory(s) if s.dir is not None else LogSource(s) for s in sources]


def _directory(source: WatchSourceConfig) -> Component:
    from engine.watch.directory import DirectorySource

    return DirectorySource(source)
