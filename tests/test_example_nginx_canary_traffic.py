"""examples/nginx-canary/README.md's traffic is enough for its checks to conclude: the directory
copied as the README says, the README's own load command (its port edited, like the example's
addresses), a real nginx and two real backends, the example's timing unchanged (a check every
10 s, min_requests 50) — and the first stage's checks PASS on at least 50 canary requests instead
of staying INCONCLUSIVE (the new-user trial's `47 requests, need 50` with a curl loop).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

from tests.headlessfixtures import HeadlessProcess, free_port, wait_until
from tests.nginxrig import (
    NGINX,
    backend,
    check_config,
    needs_nginx,
    opsconsole,
    wait_for_answer,
)
from tests.test_example_nginx_canary import CANARY, EXAMPLE, NGINX_LISTEN, STABLE, edit

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
        stable = stack.enter_context(backend("stable", 1, 0.002, 5.0, tmp_path))
        canary = stack.enter_context(backend("canary", 2, 0.002, 5.0, tmp_path))
        port = free_port()
        edit(example, {STABLE: stable.address, CANARY: canary.address, NGINX_LISTEN: f"127.0.0.1:{port}"})
        prefix = example / "nginx"
        user = ["-g", "user root;"] if os.geteuid() == 0 else []  # workers as nobody cannot enter pytest's tmp
        started = subprocess.run([NGINX, "-p", str(prefix), "-c", "nginx.conf", *user],
                                 capture_output=True, text=True, timeout=10, check=False)
        assert started.returncode == 0, started.stderr
        stack.callback(subprocess.run, [NGINX, "-p", str(prefix), "-c", "nginx.conf", "-s", "stop"],
                       capture_output=True, timeout=10, check=False)
        wait_for_answer(port)
        config = example / "opsconsole.yaml"
        check_config(config)
        engine = stack.enter_context(HeadlessProcess(config, stderr_dir=tmp_path))

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
