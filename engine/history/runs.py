"""Engine runs in a history file, and the config each one recorded.

A live snapshot shows one engine run: its ring buffers, error book, recent events and gaps start
empty when the engine starts. So a review at time t first finds the run that was live at t. A run
is delimited by the engine's own events "engine started" and "engine stopped"; an engine killed
with -9 has no stop event, and its run ends where the next one starts (or at the end of the file).

The "engine started" event carries `run_record()`: the config as the engine used it (secrets
masked, redacted again by the store), which parts were configured and which components ran. That
makes the file self-describing: a review knows the stage ladder, the alert rules and the health
checks of the run without the config file, and what-if has a baseline to compare against.
A file written before this record existed (or by another tool) is one run without a config.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.config.loader import LoadedConfig
    from engine.config.schema import Config
    from engine.history.db import HistoryDB

from engine import eventcodes as ev

log = logging.getLogger("opsconsole.history")

RUN_RECORD_FORMAT = 1


def run_record(
    loaded: LoadedConfig, configured: Iterable[str], components: Iterable[str], read_only: bool
) -> dict[str, Any]:
    """The data of the "engine started" event (see the module docstring)."""
    return {
        "format": RUN_RECORD_FORMAT,
        "config_name": loaded.path.name if loaded.path else "built-in defaults",
        "profile": loaded.profile,
        "read_only": read_only,
        "configured": sorted(configured),
        "components": list(components),
        # Exact values (durations in seconds, not "1m40s": format_duration rounds), so the replay
        # holds the same deadlines. Secrets are masked by the store, which redacts every value.
        "config": plain(loaded.config),
    }


def plain(value: Any) -> Any:
    """A validated config as JSON values that validate back to an equal config."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):  # only what was given: defaults come back by themselves
        fields = type(value).model_fields
        return {(fields[name].alias or name): plain(getattr(value, name)) for name in fields
                if name in value.model_fields_set}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, re.Pattern):
        return value.pattern
    return value


@dataclass(frozen=True)
class Run:
    started: float
    ended: float | None  # the stop event's time; None: killed, or still running at the end of the file
    next_start: float | None = None  # when the following run started, if any
    config_name: str = ""
    profile: str | None = None
    read_only: bool = False
    configured: frozenset[str] = frozenset()
    components: tuple[str, ...] = ()
    config: Config | None = field(default=None, compare=False)
    config_problem: str = ""  # why `config` is None
    recorded: bool = False  # the start event carried a run record

    def stopped_at(self, t: float) -> bool:
        """Is t after this run's clean stop (the engine was not running)?"""
        return self.ended is not None and t > self.ended


def parse_config(data: Any) -> tuple[Config | None, str]:
    """The recorded config validated by this version's schema, or (None, why not)."""
    from engine.config.schema import Config

    if not isinstance(data, dict):
        return None, "this run recorded no config"
    try:
        # recorded: checks of this machine (an nginx main config that exists) do not apply to a
        # history reviewed elsewhere, e.g. a backup on a laptop
        return Config.model_validate(data, context={"recorded": True}), ""
    except Exception as exc:  # pydantic ValidationError, or a validator of a newer/older version
        first = str(exc).splitlines()
        return None, f"the recorded config does not validate here: {' '.join(first[:3])}"


def find_runs(db: HistoryDB, first: float) -> list[Run]:
    """Every run in the file, oldest first; `first` is the file's first record (the start of a
    run that has no start event)."""
    starts: list[dict[str, Any]] = []
    stops: list[float] = []
    for event in db.engine_events():
        if event["code"] == ev.ENGINE_STARTED.code:
            starts.append(event)
        else:
            stops.append(event["t"])
    runs: list[Run] = []
    if not starts or first < starts[0]["t"] - 1e-6:
        end = next((t for t in stops if not starts or t < starts[0]["t"]), None)
        runs.append(Run(started=first, ended=end, next_start=starts[0]["t"] if starts else None,
                        config_problem="no engine start was recorded for this part of the file"))
    for i, start in enumerate(starts):
        next_start = starts[i + 1]["t"] if i + 1 < len(starts) else None
        ended = next((t for t in stops if t >= start["t"] and (next_start is None or t < next_start)), None)
        runs.append(_run(start, ended, next_start))
    return runs


def _run(start: dict[str, Any], ended: float | None, next_start: float | None) -> Run:
    recorded = start.get("data")
    data: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    name = str(data.get("config_name") or "")  # a run before the run record: the migration read it
    if not data.get("format"):
        return Run(start["t"], ended, next_start, config_name=name,
                   config_problem="this run recorded no config (written by an older opsconsole)")
    config, problem = parse_config(data.get("config"))
    return Run(
        started=start["t"], ended=ended, next_start=next_start,
        config_name=name, profile=data.get("profile"),
        read_only=bool(data.get("read_only")), configured=frozenset(data.get("configured") or ()),
        components=tuple(str(c) for c in data.get("components") or ()), config=config,
        config_problem=problem, recorded=True,
    )


def run_at(runs: Sequence[Run], t: float) -> Run | None:
    """The run live at t, or the last one that ended before t (the engine was stopped then)."""
    if not runs:
        return None
    index = bisect.bisect_right([r.started for r in runs], t) - 1
    return runs[max(0, index)]
