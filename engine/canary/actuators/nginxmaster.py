"""The running nginx behind the actuator: where its pid file and error log are, whether the pid
file names a live nginx master, and whether a reload was taken.

`nginx -s reload` only sends SIGHUP to the pid in the pid file: it exits 0 once the signal is sent,
whatever the master then does. The master re-reads the configuration; if that fails (a `listen`
port another process holds, a file the master cannot open — things `nginx -t` does not try), it
logs `[emerg]` and goes on serving the old configuration with its old workers. If it succeeds, it
starts new worker processes and tells the old ones to finish. So "the reload was taken" is
observable without reading any log: a child of the master that was not there before the signal.
The error log (when we know where it is and can read it) gives the reason of a refusal, and ends the
wait early: any `[emerg]` line of the master written after the signal, except `bind() to ... failed`,
which the master retries (five times, 500 ms apart) before its final `still could not bind()`.

Where things are follows nginx: `-p`/`-c`/`-e`/`-g` in the actuator's argv, else the main-level
`pid`/`error_log` of the main config, else the paths compiled in (`nginx -V`); relative paths are
relative to the prefix. The pid file is checked before the signal because nginx does not: a stale
pid file whose pid was reused makes `nginx -s reload` send SIGHUP to whatever process has it now.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from engine.canary.nginxconf import read_tree

POLL = 0.02
NOT_SIGNALLED = ": not signalling it"
NOT_RUNNING = ": is nginx running?"
LOG_READ_MAX = 64 * 1024  # bytes of error log read after a reload: the reason is in the first lines
_BUILD_PATH = re.compile(r"--(prefix|conf-path|pid-path|error-log-path)=(\S+)")
NOT_A_FILE = ("stderr", "syslog:", "memory:", "/dev/")
# "2026/12/06 00:41:05 [emerg] 4898#4898: bind() to 127.0.0.1:80 failed (98: Address already in use)"
_SERIOUS = re.compile(r"\[(?P<level>emerg|alert|crit)\] (?P<pid>\d+)#\d+: (?:\*\d+ )?(?P<text>[^\n]*)")


@dataclass(frozen=True)
class Layout:
    """The files of one nginx instance, as its master sees them (None: not known)."""

    conf: Path | None
    pid_file: Path | None
    error_log: Path | None


def build_defaults(binary: str, timeout: float) -> dict[str, str]:
    """The paths compiled into `binary` (`nginx -V`), e.g. {"prefix": "/usr/share/nginx", ...}."""
    try:
        done = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return {}  # the actuator's own `nginx -t` says what is wrong with the binary
    return dict(_BUILD_PATH.findall(done.stderr + done.stdout))


def _options(args: list[str]) -> dict[str, str]:
    """nginx's -p/-c/-e/-g, given as `-p DIR` or `-pDIR`; -g values are joined."""
    found: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if len(arg) >= 2 and arg[0] == "-" and arg[1] in "pceg":
            value = arg[2:] or (args[i + 1] if i + 1 < len(args) else "")
            i += 1 if arg[2:] else 2
            found[arg[1]] = f"{found.get(arg[1], '')} {value}".strip() if arg[1] == "g" else value
        else:
            i += 1
    return found


def layout(args: list[str], built: dict[str, str]) -> Layout:
    """Where the master's conf, pid file and error log are, for an nginx run with `args` whose
    compiled-in paths are `built` (build_defaults)."""
    given = _options(args)
    prefix = Path(given.get("p") or built.get("prefix") or "/")

    def full(path: str | None) -> Path | None:
        if not path or path.startswith(NOT_A_FILE):
            return None
        return Path(path) if os.path.isabs(path) else prefix / path

    conf = full(given.get("c") or built.get("conf-path"))
    tree = read_tree(conf, given.get("g", "")) if conf is not None else None
    pid = next((d.args[0] for d in tree.main_level("pid") if d.args), None) if tree else None
    logs = [d.args[0] for d in tree.main_level("error_log") if d.args] if tree else []
    return Layout(conf, full(pid or built.get("pid-path")), full(next(iter(logs), None) or given.get("e")
                                                                     or built.get("error-log-path")))


def _read(path: str) -> str:
    with open(path, "rb") as handle:
        return handle.read().decode(errors="replace")


def master_pid(pid_file: Path, binary: str) -> tuple[int | None, str]:
    """(pid, "") when the pid file names a live nginx master; else (None or pid, why not)."""
    try:
        text = pid_file.read_text().strip()
    except FileNotFoundError:
        return None, f"the pid file {pid_file} does not exist: is nginx running?"
    except OSError as exc:
        return None, f"cannot read the pid file {pid_file}: {exc.strerror or exc}"
    if not text:  # `nginx -t` creates it empty when no nginx runs
        return None, f"the pid file {pid_file} is empty: is nginx running?"
    if not text.isdigit():
        return None, f"the pid file {pid_file} holds {text[:40]!r}, not a pid"
    pid = int(text)
    try:
        title = _read(f"/proc/{pid}/cmdline").replace("\0", " ").strip()
        comm = _read(f"/proc/{pid}/comm").strip()
        # "pid (comm) S ...": a master that exited but was not yet reaped is a zombie (Z), and a
        # signal to it does nothing: as good as not running.
        exited = _read(f"/proc/{pid}/stat").rpartition(")")[2].split()[:1] in (["Z"], ["X"])
    except FileNotFoundError:
        exited = True
    except OSError as exc:
        return pid, f"cannot read /proc/{pid}: {exc.strerror or exc}"
    if exited:
        return pid, f"the pid file {pid_file} names pid {pid}, which is not running{NOT_RUNNING}"
    if title.startswith("nginx: master process") or comm in ("nginx", Path(binary).name[:15]):
        return pid, ""
    return pid, (f"the pid file {pid_file} names pid {pid}, which is not nginx but {title[:80]!r} "
                 f"(a stale pid file whose pid was reused){NOT_SIGNALLED}")


def children(pid: int) -> set[int] | None:
    """The master's child processes (workers, cache manager); None when /proc does not show them."""
    try:
        return {int(p) for p in _read(f"/proc/{pid}/task/{pid}/children").split()}
    except FileNotFoundError:
        if not os.path.exists(f"/proc/{pid}"):
            return set()  # it is gone: the caller finds out
    except OSError:
        pass
    found: set[int] = set()  # a kernel without the children file: scan every process's parent
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if entry.isdigit():
            try:
                stat = _read(f"/proc/{entry}/stat")
            except OSError:
                continue  # gone meanwhile
            if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
                found.add(int(entry))
    return found


def log_size(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return path.stat().st_size
    except OSError:
        return None


def refusal(path: Path | None, offset: int | None, pid: int) -> tuple[list[str], bool]:
    """The master's [emerg]/[alert]/[crit] lines written to the error log since `offset`, and
    whether they are final (the master gave up on this reload)."""
    if path is None or offset is None:
        return [], False
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size < offset:  # rotated meanwhile: read from the start
                offset = 0
            handle.seek(offset)
            text = handle.read(LOG_READ_MAX).decode(errors="replace")
    except OSError:
        return [], False
    lines = [f"[{m['level']}] {m['text']}" for m in _SERIOUS.finditer(text) if int(m["pid"]) == pid]
    final = any("bind() to" not in line for line in lines)
    return lines, final


@dataclass(frozen=True)
class Outcome:
    taken: bool | None  # None: cannot tell (no workers to compare, or /proc hides the master's children)
    why: str  # for a refusal: what the master said or did; for None: why it could not be verified
    timed_out: bool = False  # no verdict by the deadline: the master may still be reloading


def wait_taken(pid: int, before: set[int] | None, log: Path | None, offset: int | None, deadline: float) -> Outcome:
    """After the SIGHUP: did the master start new workers (taken), refuse, or neither by `deadline`?"""
    wait = round(max(0.0, deadline - time.monotonic()), 1)
    if before is None or not before:
        return Outcome(None, "not verified: the nginx master's worker processes are not visible in /proc"
                       if before is None else "not verified: the nginx master has no worker processes")
    while True:
        now = children(pid)
        if now is None:
            return Outcome(None, "not verified: /proc stopped showing the nginx master's workers")
        if now - before:
            return Outcome(True, "")
        if not os.path.exists(f"/proc/{pid}"):
            return Outcome(False, f"the nginx master (pid {pid}) exited during the reload")
        lines, final = refusal(log, offset, pid)
        if final:
            return Outcome(False, f"the nginx master (pid {pid}) refused the new configuration and kept the "
                                  f"old one: {' / '.join(dict.fromkeys(lines))}")
        if time.monotonic() >= deadline:
            said = f"; its error log says: {' / '.join(dict.fromkeys(lines))}" if lines else ""
            return Outcome(False, f"the nginx master (pid {pid}) started no new worker processes within "
                                  f"{wait:g}s of the reload signal: it kept the old configuration{said}", True)
        time.sleep(POLL)
