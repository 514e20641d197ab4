"""The reaction benchmark's actuator endpoint in its own process, as a real one is (nginx, a router,
a service mesh's API): an HttpFixture answering 200 on every path and noting when each request
arrived (time.monotonic(), which is system-wide on Linux, so the parent compares it with its own).

In the benchmark's process, the server's thread would wait for the GIL behind the console's UI
thread and the engine's loop for each step of reading a request: tens of milliseconds that no
operator's actuator spends (bench/reaction.py `--in-process-server` measures it that way).

    python -m bench.actuator_server       # prints its port; then, one per line on stdin:
        hits PATH                          # -> a JSON list of the arrival times at PATH
        clear                              # forget the requests seen so far
    (end of stdin: exit)
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PATHS = ("/canary/enable", "/canary/rollback", "/canary/promote", "/floor")


@dataclass(frozen=True)
class Arrival:
    t: float  # time.monotonic() when the request arrived


class ActuatorServer:
    """The child process, with the part of HttpFixture's interface the benchmark uses."""

    def __init__(self) -> None:
        self._child = subprocess.Popen([sys.executable, "-m", "bench.actuator_server"], cwd=REPO, text=True,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._child.stdout is not None and self._child.stdin is not None
        self._out, self._in = self._child.stdout, self._child.stdin
        self.port = int(self._out.readline())

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str) -> list[Arrival]:
        self._in.write(f"hits {path}\n")
        self._in.flush()
        return [Arrival(t) for t in json.loads(self._out.readline())]

    def wait_for_hits(self, path: str, count: int, timeout: float = 10.0) -> list[Arrival]:
        from tests.httpfixtures import wait_for_hits

        return wait_for_hits(self.hits, path, count, timeout)

    def clear(self) -> None:
        self._in.write("clear\n")
        self._in.flush()

    def __enter__(self) -> ActuatorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self._in.close()
        self._child.wait(10)


def main() -> None:
    from tests.httpfixtures import HttpFixture, Reply

    with HttpFixture() as server:
        for path in PATHS:
            server.route(path, Reply(200, "ok"))
        print(server.port, flush=True)
        for line in sys.stdin:
            verb, _, arg = line.strip().partition(" ")
            if verb == "hits":
                print(json.dumps([seen.t for seen in server.hits(arg)]), flush=True)
            elif verb == "clear":
                server.requests.clear()
            else:
                raise SystemExit(f"bench.actuator_server: unknown request {line!r}")


if __name__ == "__main__":
    main()
