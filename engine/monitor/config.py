"""The `monitor:` section: host sampling and the processes to watch.

    monitor:
      host: {interval: 2s, mounts: [/, /var/lib/postgresql]}
      process_interval: 5s
      processes:
        - {name: engine, self: true}                  # opsconsole itself
        - {name: nginx, match: nginx}                 # by process name, exactly
        - {name: api, cmdline: "gunicorn .*api:app"}  # by a regex over the command line
        - {name: postgres, pid_file: /run/postgresql/15-main.pid}
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from engine.config.schema import PositiveDuration, Strict, duration_range, unique_names


def _regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return text


Regex = Annotated[str, AfterValidator(_regex)]


class HostMonitorConfig(Strict):
    enabled: bool = True
    """Sample the host (CPU, memory, load, disks, network)."""
    interval: PositiveDuration = 2.0
    """How often the host is sampled."""
    mounts: list[Path] = [Path("/")]
    """Filesystems whose usage is recorded, each as source `disk:<mount>`, e.g. `[/, /var/lib/postgresql]`."""
    disk_io: bool = True
    """Record read and write bytes per second over all disks."""
    net_io: bool = True
    """Record received and sent bytes per second over all interfaces."""


class ProcessMatch(Strict):
    """How to find one process: exactly one of `match`, `cmdline`, `pid_file`, `self`.

    When several processes match (nginx master and workers), the oldest is the one followed: its
    pid, uptime and restarts; `count` says how many matched.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)

    match: str | None = None
    """The process name, exactly as `ps -o comm` shows it, e.g. `nginx`."""
    cmdline: Regex | None = None
    """A regular expression searched in the command line joined by spaces, e.g. `gunicorn .*api:app`."""
    pid_file: Path | None = None
    """A file holding the process id, e.g. `/run/postgresql/15-main.pid`."""
    self_: bool = Field(False, alias="self")
    """`true`: the opsconsole process itself."""

    @model_validator(mode="after")
    def _exactly_one_way(self) -> ProcessMatch:
        given = [key for key, value in (("match", self.match), ("cmdline", self.cmdline),
                                        ("pid_file", self.pid_file), ("self", self.self_)) if value]
        if len(given) != 1:
            what = "none" if not given else ", ".join(given)
            raise ValueError(f"give exactly one of match, cmdline, pid_file, self (got {what})")
        return self

    def describe(self) -> str:
        """How the operator wrote it: "name 'nginx'", "cmdline /gunicorn/", "pid file /run/x.pid"."""
        if self.match:
            return f"name {self.match!r}"
        if self.cmdline:
            return f"cmdline /{self.cmdline}/"
        if self.pid_file:
            return f"pid file {self.pid_file}"
        return "opsconsole itself"


def _series_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.:-]+", name):
        raise ValueError(f"use letters, digits and _ . : - only (it names a series), got {name!r}")
    return name


# Names become series sources ("proc:<name>", "health:<name>"): no '/', no spaces.
SeriesName = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_series_name)]


class ProcessRule(ProcessMatch):
    name: SeriesName
    """The process' name, unique; its series are `proc:<name>/...`, e.g. `api`."""


class MonitorConfig(Strict):
    host: HostMonitorConfig = HostMonitorConfig()
    """Host sampling."""
    processes: Annotated[list[ProcessRule], unique_names("process")] = []
    """Processes to watch (CPU, RSS, threads, open files, uptime), each matched by exactly one of `match`, `cmdline`, `pid_file` or `self`."""
    process_interval: Annotated[PositiveDuration, duration_range("500ms", "1h")] = 5.0
    """How often watched processes are sampled."""
