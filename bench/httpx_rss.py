"""The engine's RSS on a config that makes no request through httpx, and with one http check (issue 20).

    python bench/httpx_rss.py [--before /tmp/before] [--runs 2]

The config is tests/test_import_httpx.py's: host monitoring, two local health checks, an alert, a
scrape, a log and a rollout through a command actuator (`--with-http` adds one http health check).
Each run is a fresh interpreter that starts the engine embedded (no terminal UI), lets every part
run its first steps, and reports VmRSS and whether httpx is in sys.modules. With `--before DIR`
(a clean clone of an older commit) the same runs from DIR, alternating. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.test_import_httpx import CONFIG, PROBE  # noqa: E402  (the test's config and probe)

HTTP_CHECK = "  - {name: api-health, kind: http, url: 'http://127.0.0.1:9/health', interval: 1s}"
RSS = ('rss = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")][0] / 1024\n'
       'print(json.dumps({"rss_mb": round(rss, 1), ')


def run(checkout: Path, http: bool) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="opsconsole-httpx-rss-") as tmp:
        d = Path(tmp)
        (d / "access.json").write_text("")
        (d / "config.yaml").write_text(CONFIG.format(http_check=HTTP_CHECK if http else "", log=d / "access.json",
                                                     python=sys.executable))
        out = subprocess.run([sys.executable, "-c", PROBE.replace('print(json.dumps({', RSS), str(d / "config.yaml")],
                             capture_output=True, text=True, timeout=120, cwd=checkout,
                             env={**os.environ, "XDG_STATE_HOME": str(d / "state"), "PYTHONPATH": str(checkout)})
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, help="also run from this checkout (a clean clone)")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    checkouts = {"now": REPO, **({"before": args.before.resolve()} if args.before else {})}
    figures: dict[str, dict[str, object]] = {}
    for _ in range(args.runs):
        for label, checkout in checkouts.items():
            for http in (False, True):
                key = f"{label}{' + http check' if http else ''}"
                found = run(checkout, http)
                row = figures.setdefault(key, {"rss_mb": [], "httpx": found["httpx"]})
                row["rss_mb"].append(found["rss_mb"])  # type: ignore[union-attr]
                print(f"{key:22} RSS {found['rss_mb']:6.1f} MB  httpx loaded: {found['httpx']}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
