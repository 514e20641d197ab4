"""examples/nginx-canary/README.md's traffic is enough for its checks to conclude: the directory
copied as the README says, the README's own load command (its port edited, like the example's
addresses), a real nginx and two real backends, the example's timing unchanged (a check every
10 s, min_requests 50) — and the first stage's checks PASS on at least 50 canary requests instead
of staying INCONCLUSIVE (the new-user trial's `47 requests, need 50` with a curl loop).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from tests.headlessfixtures import wait_until
from tests.nginxrig import (
    NGINX,
    needs_nginx,
    opsconsole,
)
from tests.test_example_nginx_canary import EXAMPLE, NGINX_LISTEN, run_example

ROOT = EXAMPLE.parents[1]


def readme_command(word: str) -> list[str]:
    """The README's code line that runs `word`, as argv (its trailing `&` and comment dropped)."""
    lines = [line.strip() for line in (EXAMPLE / "README.md").read_text().splitlines()
             if line.startswith("    ") and word in line]
    assert len(lines) == 1, f"README.md should have one command line with {word}: {lines}"
    return shlex.split(re.sub(r"\s*&?\s*(#.*)?$", "", lines[0]))


@needs_nginx
def test_the_readme_load_makes_every_first_stage_check_conclusive(tmp_path: Path) -> None:
    assert NGINX is not None
    copy = readme_command("cp -r")
    assert copy[:3] == ["cp", "-r", "examples/nginx-canary"], copy
    example = tmp_path / "nginx-canary"
    shutil.copytree(EXAMPLE, example)
    with ExitStack() as stack:
        running = run_example(example, stack, tmp_path)
        port, engine = running.port, running.engine
        config = example / "opsconsole.yaml"

        load = readme_command("load.py")
        assert load[0] == "python" and load[1] == "examples/nginx-canary/load.py", load
        argv = [sys.executable, str(ROOT / load[1]),
                *[arg.replace(NGINX_LISTEN, f"127.0.0.1:{port}") for arg in load[2:]]]
        traffic = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stack.callback(traffic.wait, 10)
        stack.callback(traffic.terminate)

        done = opsconsole("rollout", "start", "--config", str(config), "--reason", "README traffic")
        assert done.returncode == 0, done.stdout + done.stderr

        def error_rule() -> dict | None:
            shown = opsconsole("rollout", "status", "--json", "--config", str(config))
            assert engine.proc.poll() is None, engine.stderr()[-3000:]
            rules = json.loads(shown.stdout)["rules"] if shown.returncode == 0 else []
            rule = next((r for r in rules if r["metric"] == "error rate"), None)
            return rule if rule and rule.get("n") else None

        first = wait_until(error_rule, 30, "the first conclusive check of the error-rate rule")
        # The next check: a new body of evidence, judged on its own.
        second = wait_until(lambda: (r := error_rule()) and r["n"] != first["n"] and r, 30, "a second check")
        status = opsconsole("rollout", "status", "--config", str(config)).stdout
    for rule in (first, second):
        assert rule["state"] == "pass" and rule["n"] >= 50, f"{rule}\n{status}"
    assert "INCONCLUSIVE" not in status, status
    print(f"canary requests per check: {first['n']}, {second['n']} in {first['window']}s, {second['window']}s")
