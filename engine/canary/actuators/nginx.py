"""`nginx`: weights for the stable and canary servers in an upstream include file, then
`nginx -t`, `nginx -s reload`, and a check that the master took the new configuration.

The file on disk, the weights nginx serves and the weight the rollout records must always agree,
so an actuation either succeeds whole or leaves everything as it was:

- the file is replaced atomically (a temporary file beside it, fsync, rename), so nginx never
  reads half a file;
- `nginx -t` checks the whole configuration with the new file in place;
- before the signal, the pid file must name a live nginx master (nginx -s reload would send
  SIGHUP to whatever process a stale pid file's reused pid now belongs to);
- `nginx -s reload` only sends the signal: its exit 0 proves nothing about the reload. The master
  re-reads the configuration and, when that fails (a listen port another process holds, a file it
  cannot open: nothing `nginx -t` tries), logs `[emerg]` and keeps serving the old one. A master
  that took the new configuration starts new worker processes, so the actuation waits (at most
  `timeout`) for a child of the master that was not there before the signal; `[emerg]` lines of the
  master in the error log end the wait early and say why (engine/canary/actuators/nginxmaster.py).
  This reads /proc, not log lines whose level and place vary: it works with any error_log setting.
  (A worker that crashes and is respawned during that wait would look like a reload: rare, and the
  next actuation rewrites and reloads anyway.)
  When the workers cannot be seen (no worker processes, /proc hidden), the reload is reported as
  sent but not verified.

If any step fails, the previous file is put back byte for byte with its mode (atomically too),
or the new file removed if there was none, and the error says what failed and that the old file
is back. After a wait that ended without a verdict the reload is sent once more with the old
file, so a master that was only slow ends on the old configuration as well.
A weight of 0 marks a side `down` (nginx weights start at 1).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from engine.canary.actuators import nginxmaster
from engine.canary.actuators.base import Actuation, ActuatorError, Applied
from engine.canary.config import NginxActuatorConfig

log = logging.getLogger("opsconsole.canary")
OUTPUT_KEPT = 600


def upstream_text(config: NginxActuatorConfig, canary_weight: int, service: str = "") -> str:
    """The include file for `canary_weight` percent on the canary servers.

    Per-server weights are scaled by the other side's server count, so that with 2 stable and
    1 canary server at 10%, the canary still gets 10% of requests, not 5%."""
    stable_share, canary_share = 100 - canary_weight, canary_weight
    n_stable, n_canary = len(config.stable), len(config.canary)
    per_stable, per_canary = stable_share * n_canary, canary_share * n_stable
    divisor = math.gcd(per_stable, per_canary) or 1
    lines = [
        (f"# Written by opsconsole ({service or config.upstream}): canary {canary_weight}%. "
         "Do not edit: the next actuation replaces this file."),
        f"upstream {config.upstream} {{",
    ]
    for servers, weight in ((config.stable, per_stable // divisor), (config.canary, per_canary // divisor)):
        for server in servers:
            lines.append(f"    server {server} weight={weight};" if weight else f"    server {server} down;")
    lines.append("}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Previous:
    """The upstream file before an actuation: what a failure puts back."""

    data: bytes | None  # None: there was no file
    mode: int = 0o600
    owner: tuple[int, int] | None = None  # (uid, gid), kept when we may (running as root)


def read_previous(path: Path) -> Previous:
    try:
        data = path.read_bytes()
        st = path.stat()
    except FileNotFoundError:
        return Previous(None)
    except OSError as exc:
        raise ActuatorError(f"cannot read {path}: {exc.strerror or exc}") from None
    return Previous(data, st.st_mode & 0o777, (st.st_uid, st.st_gid))


def write_atomically(path: Path, data: bytes, mode: int, owner: tuple[int, int] | None = None) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed it
        if owner is not None and os.geteuid() == 0 and owner != (0, 0):
            os.chown(tmp, *owner)  # root rewriting another user's file: it stays theirs
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class NginxActuator:
    kind = "nginx"

    def __init__(self, config: NginxActuatorConfig) -> None:
        self.config = config
        self.args = [*config.args, *(["-p", str(config.prefix)] if config.prefix else []),
                     *(["-c", str(config.main_config)] if config.main_config else [])]
        self._built: dict[str, str] | None = None  # the binary's compiled-in paths, asked once

    def describe(self) -> str:
        main = f" (included from {self.config.main_config})" if self.config.main_config else ""
        return f"nginx upstream {self.config.upstream} in {self.config.upstream_file}{main}"

    def _run(self, *extra: str) -> subprocess.CompletedProcess[str]:
        argv = [self.config.nginx, *self.args, *extra]
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=self.config.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ActuatorError(f"{shlex.join(argv)} did not finish within {self.config.timeout:g}s") from None
        except OSError as exc:
            raise ActuatorError(f"cannot run {shlex.join(argv)}: {exc.strerror or exc}") from None

    def _apply_blocking(self, text: str) -> str:
        """Write, test, reload, verify; on any failure the previous file is back. Returns the
        detail's tail ("nginx reloaded" or why it could not be verified)."""
        path = self.config.upstream_file
        previous = read_previous(path)
        try:
            write_atomically(path, text.encode(), previous.mode, previous.owner)
        except OSError as exc:
            raise ActuatorError(f"cannot write {path}: {exc.strerror or exc}") from None
        try:
            return self._test_and_reload(path)
        except ActuatorError as exc:
            self._restore(path, previous, exc)
            raise ActuatorError(f"{exc}; the previous {path.name} is back in place", exc.data) from None

    def _test_and_reload(self, path: Path) -> str:
        test = self._run("-t")
        if test.returncode != 0:
            why = _tail(test.stderr or test.stdout)
            raise ActuatorError(f"nginx -t rejected the new {path.name}: {why}",
                                {"exit_code": test.returncode, "output": why, "failed": "test"})
        if self._built is None:
            self._built = nginxmaster.build_defaults(self.config.nginx, self.config.timeout)
        where = nginxmaster.layout(self.args, self._built)  # each time: nginx.conf may have changed
        pid, why = (None, "no pid file known") if where.pid_file is None else nginxmaster.master_pid(
            where.pid_file, self.config.nginx)
        if pid is not None and why.endswith(nginxmaster.NOT_SIGNALLED):
            raise ActuatorError(f"nginx was not reloaded: {why}", {"failed": "pid file"})
        if pid is not None and why.endswith(nginxmaster.NOT_RUNNING):
            # Not sent: a master that exited but is not yet reaped (a zombie) still "takes" the
            # signal, and `nginx -s reload` would report success for a reload nobody performs.
            raise ActuatorError(f"nginx -s reload failed: {why}", {"failed": "reload", "output": why})
        verify = pid is not None and not why
        before = nginxmaster.children(pid) if pid is not None and verify else None
        offset = nginxmaster.log_size(where.error_log) if verify else None
        deadline = time.monotonic() + self.config.timeout
        reload = self._run("-s", "reload")
        if reload.returncode != 0:
            said = _tail(reload.stderr or reload.stdout)
            hint = f" ({why})" if why else ""
            raise ActuatorError(f"nginx -s reload failed: {said}{hint}",
                                {"exit_code": reload.returncode, "output": said, "failed": "reload"})
        if not verify:
            return f"nginx reload sent (not verified: {why})"
        assert pid is not None
        outcome = nginxmaster.wait_taken(pid, before, where.error_log, offset, deadline)
        if outcome.taken is False:
            raise ActuatorError(f"nginx -s reload was not taken: {outcome.why}",
                                {"failed": "reload", "output": outcome.why, "timed_out": outcome.timed_out})
        return "nginx reloaded" if outcome.taken else f"nginx reload sent ({outcome.why})"

    def _restore(self, path: Path, previous: Previous, failure: ActuatorError) -> None:
        try:
            if previous.data is None:
                path.unlink(missing_ok=True)
            else:
                write_atomically(path, previous.data, previous.mode, previous.owner)
        except OSError as exc:
            raise ActuatorError(f"{failure} AND the previous {path} could not be put back: "
                                f"{exc.strerror or exc}", failure.data) from None
        if failure.data.get("timed_out"):
            # A master that was only slow may still take the new file: one more reload makes it end
            # on the old one. Best effort: the error already says what happened.
            try:
                self._run("-s", "reload")
            except ActuatorError as exc:
                log.warning("nginx: the reload after putting %s back failed too: %s", path, exc)

    async def apply(self, actuation: Actuation) -> Applied:
        text = upstream_text(self.config, actuation.weight, actuation.service)
        done = await asyncio.to_thread(self._apply_blocking, text)
        path = str(self.config.upstream_file)
        return Applied(f"{path}: canary {actuation.weight}%, {done}", {"file": path, "weight": actuation.weight})

    async def warm(self) -> None:
        """Nothing to open ahead of an actuation."""

    async def aclose(self) -> None:
        """Nothing held between actuations."""


def _tail(text: str) -> str:
    return " ".join(text.strip().split())[-OUTPUT_KEPT:]
