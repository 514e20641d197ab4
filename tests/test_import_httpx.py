"""httpx (9.8 MB of RSS with httpcore, anyio, h11, certifi) is loaded only by what makes requests
through it: rollout gates and the Alertmanager pusher. Scrapes, the token endpoint, http health
checks and the http and demo actuators go through engine/collect/http1.py. A config with neither
a gate nor an Alertmanager never loads it.

As in tests/test_import_hygiene.py, the engine runs in a fresh interpreter: this test process has
httpx loaded already (other tests), which would hide a violation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.httpfixtures import HttpFixture, Reply, json_reply

PROBE = """
import json, sys, time
from pathlib import Path

from tests.httpfixtures import HttpFixture, Reply, json_reply
from engine.config.loader import load_config
from engine.runtime import Engine

engine = Engine(load_config(Path(sys.argv[1])))
engine.start(timeout=30)
try:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # every component has run its first steps
        names = {c.name: c.state for c in engine.snapshot().components}
        if engine.snapshot().rollout is not None and names.get("health") and time.monotonic() > deadline - 18:
            break
        time.sleep(0.1)
    time.sleep(1.0)
    components = sorted(c.name for c in engine.snapshot().components)
finally:
    engine.stop(timeout=10)
print(json.dumps({"httpx": "httpx" in sys.modules, "components": components}))
"""

CONFIG = """\
demo: {{enabled: false}}
monitor:
  host: {{interval: 1s, mounts: [/]}}
health:
  - {{name: root-disk, kind: disk_free, path: /, min: 1MB, interval: 1s}}
  - {{name: memory, kind: memory, max_pct: 99, interval: 1s}}
{http_check}
alerts:
  - {{name: HostCpuHigh, series: host/cpu_pct, op: ">", value: 99, for: 1m, severity: warning}}
collect:
  tracks:
    - name: api
      interval: 1s
      timeout: 500ms
      targets:
        - {{name: api, url: "http://127.0.0.1:9/metrics", format: prometheus}}
watch:
  - {{name: access, log: {log}, format: nginx_json, window: 5s}}
canary:
  service: checkout
  auto_start: true
  interval: 1s
  stages:
    - {{weight: 10, hold: 1h}}
    - {{weight: 100}}
  rules:
    - {{series: "log:access:all/error_rate", max: 0.05, consecutive: 3}}
  actuator: {actuator}
{gates}"""

COMMAND_ACTUATOR = '{{kind: command, retries: 0, set_weight: [{python}, -c, "pass"]}}'


def run_engine(tmp_path: Path, http_check: str = "", actuator: str = COMMAND_ACTUATOR,
               gates: str = "") -> dict[str, object]:
    log = tmp_path / "access.json"
    log.write_text("")
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(http_check=http_check, log=log, actuator=actuator.format(python=sys.executable),
                                    gates=gates))
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    out = subprocess.run([sys.executable, "-c", PROBE, str(config)], capture_output=True, text=True,
                         timeout=120, env=env, cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_config_without_http_checks_actuator_gates_or_alertmanager_never_loads_httpx(tmp_path: Path) -> None:
    found = run_engine(tmp_path)
    assert {"health", "canary", "collect"} <= set(found["components"]), found  # type: ignore[arg-type]
    assert found["httpx"] is False


def test_an_http_actuator_and_an_http_health_check_do_not_load_it(tmp_path: Path) -> None:
    """Both make their requests (to a real server here) through the lean client."""
    with HttpFixture() as server:
        server.route("/health", json_reply({"status": "healthy"}))
        server.route("/weight", Reply(200, "ok"))
        check = f"  - {{name: api-health, kind: http, url: '{server.url('/health')}', interval: 1s}}"
        actuator = (f"{{{{kind: http, base_url: '{server.url('')}', retries: 0, headers: {{{{X-Token: t}}}},"
                    " set_weight: {{url: /weight, body: {{canary_weight: '{{weight}}'}}}}}}")
        found = run_engine(tmp_path, check, actuator)
        assert server.hits("/health") and server.hits("/weight"), found  # the requests were made
        assert json.loads(server.hits("/weight")[0].body) == {"canary_weight": 10}
    assert {"health", "canary"} <= set(found["components"]), found  # type: ignore[arg-type]
    assert found["httpx"] is False


def test_a_gate_loads_it(tmp_path: Path) -> None:
    """The probe's control: the same engine with a rollout gate does load httpx (gates stay on it)."""
    gates = "  gates: {pre_rollout: {url: 'http://127.0.0.1:9/gate', timeout: 1s}}\n"
    assert run_engine(tmp_path, gates=gates)["httpx"] is True


def test_importing_the_parts_that_can_use_httpx_does_not_load_it() -> None:
    modules = ["engine.runtime", "engine.canary.component", "engine.canary.gates", "engine.canary.actuators",
               "engine.health.component", "engine.health.http", "engine.collect.component",
               "engine.alertmanager.component"]
    code = f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\nprint('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
