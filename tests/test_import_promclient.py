"""prometheus-client (1.2 MB resident on top of the console, more in a bare engine) is loaded only
when a scraped page needs its parser (an odd line: a timestamp, an escape) or when the engine
exports metrics itself. Plain pages, which nearly every exporter writes, are read by
engine/collect/formats/promtext.py.

The engine runs in a fresh interpreter against a real exporter on 127.0.0.1: this test process
has prometheus_client loaded already (other tests), which would hide a violation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.httpfixtures import HttpFixture, Reply

PROBE = """
import json, sys, time
from pathlib import Path
from engine.config.loader import load_config
from engine.runtime import Engine

engine = Engine(load_config(Path(sys.argv[1])))
engine.start(timeout=30)
try:
    deadline = time.monotonic() + 20
    rate = None
    while time.monotonic() < deadline and not rate:  # scrapes a counter that grew make a rate
        series = engine.snapshot().get("collect:api", "requests_per_s")
        rate = series.last if series is not None else None
        time.sleep(0.1)
finally:
    engine.stop(timeout=10)
print(json.dumps({"loaded": "prometheus_client" in sys.modules, "rate": rate}))
"""

CONFIG = """\
demo: {{enabled: false}}
collect:
  tracks:
    - name: api
      interval: 200ms
      timeout: 1s
      targets:
        - {{name: api, url: "{url}", format: prometheus}}
"""


def scrape(tmp_path: Path, page: str) -> dict[str, object]:
    """Scrapes `page` until it has a request rate; whether prometheus_client got loaded."""
    counts = iter(range(0, 10**9, 50))
    with HttpFixture() as server:
        server.route("/metrics", lambda _request: Reply(body=page.format(count=next(counts))))
        config = tmp_path / "config.yaml"
        config.write_text(CONFIG.format(url=server.url("/metrics")))
        env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
        out = subprocess.run([sys.executable, "-c", PROBE, str(config)], capture_output=True, text=True,
                             timeout=120, env=env, cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


PLAIN = """\
# TYPE http_requests_total counter
http_requests_total{{code="200"}} {count}
http_requests_total{{code="500"}} 1
"""


def test_plain_pages_are_scraped_without_loading_it(tmp_path: Path) -> None:
    found = scrape(tmp_path, PLAIN)
    assert found["rate"] is not None and float(found["rate"]) > 0, found  # the scrapes were read
    assert found["loaded"] is False


def test_a_page_with_timestamps_loads_it(tmp_path: Path) -> None:
    """The probe's control: a line the fast path does not read goes to prometheus-client's parser."""
    odd = PLAIN.replace("{count}", "{count} 1700000000000")
    found = scrape(tmp_path, odd)
    assert found["rate"], found  # read by the reference parser
    assert found["loaded"] is True
