"""`command`: argv templates (`["./set-weight.sh", "{weight}"]`) run without a shell, with a
timeout; the exit code and the end of the output are recorded with every actuation.

The command runs in its own process group, so a timeout kills the script and whatever it started.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal

from engine.canary.actuators.base import Actuation, ActuatorError, Applied, render
from engine.canary.config import CommandActuatorConfig

OUTPUT_KEPT = 2000  # characters: the end of the output is where the reason usually is


class CommandActuator:
    kind = "command"

    def __init__(self, config: CommandActuatorConfig) -> None:
        self.config = config

    def describe(self) -> str:
        where = f" in {self.config.cwd}" if self.config.cwd else ""
        return f"command {shlex.join(self.config.set_weight)}{where}"

    def _argv(self, actuation: Actuation) -> list[str]:
        template = getattr(self.config, actuation.kind) or self.config.set_weight
        values = actuation.placeholders()
        return [str(render(part, values)) for part in template]

    async def apply(self, actuation: Actuation) -> Applied:
        argv = self._argv(actuation)
        shown = shlex.join(argv)
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.config.cwd,
                start_new_session=True,
            )
        except OSError as exc:
            where = f" (in {self.config.cwd})" if self.config.cwd else f" (in {os.getcwd()})"
            raise ActuatorError(f"cannot run {shown}: {exc.strerror or exc}{where}") from None
        try:
            raw, _ = await asyncio.wait_for(process.communicate(), self.config.timeout)
        except TimeoutError:
            await _kill(process)
            raise ActuatorError(
                f"{shown} did not finish within {self.config.timeout:g}s and was killed", {"exit_code": None}
            ) from None
        except asyncio.CancelledError:
            await _kill(process)
            raise
        output = raw.decode("utf-8", "replace").strip()[-OUTPUT_KEPT:]
        data = {"argv": argv, "exit_code": process.returncode, "output": output}
        last_line = output.splitlines()[-1] if output else ""
        if process.returncode != 0:
            raise ActuatorError(f"{shown} exited with {process.returncode}" + (f": {last_line}" if last_line else ""), data)
        return Applied(f"{shown}: exit 0" + (f": {last_line}" if last_line else ""), data)

    async def warm(self) -> None:
        """Nothing to open ahead of an actuation."""

    async def aclose(self) -> None:
        """Nothing held between actuations."""


async def _kill(process: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # it ended between the timeout and the kill
        pass
    await process.wait()
