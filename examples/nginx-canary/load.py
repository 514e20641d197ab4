"""Steady traffic for trying the example: GET URL at RATE requests a second, from a few threads
with keep-alive connections (stdlib only), and one line every 10 s of what was answered.

    python examples/nginx-canary/load.py http://127.0.0.1:8080/ --rate 80

Why a rate and not `while sleep 0.05; do curl …; done`: that loop gives ~16 requests a second,
so at the first stage's 10% the canary gets ~1.6 a second, ~16 per 10 s check, and every check is
INCONCLUSIVE (it needs canary.min_requests, 50, on each side). At 80 a second the canary gets ~8,
~80 per check: each check concludes. README.md has the arithmetic.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlsplit

REPORT_EVERY = 10.0  # seconds: the example's canary.interval


def worker(url: str, period: float, start: float, stop: threading.Event, counts: Counter[str],
           lock: threading.Lock) -> None:
    """One request every `period` seconds from `start`, on one kept-alive connection; a late
    request is sent at once, never in a burst to catch up."""
    parts = urlsplit(url)
    path = parts.path or "/"
    conn: http.client.HTTPConnection | None = None
    due = start
    while not stop.is_set():
        due = max(due + period, time.monotonic())
        if stop.wait(max(0.0, due - time.monotonic())):
            break
        try:
            conn = conn or http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=5)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            answer = str(response.status)
        except (OSError, http.client.HTTPException) as exc:
            answer = type(exc).__name__  # refused, reset, timed out: counted and shown, never hidden
            if conn is not None:
                conn.close()
            conn = None
        with lock:
            counts[answer] += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="what to GET, e.g. http://127.0.0.1:8080/")
    parser.add_argument("--rate", type=float, default=80.0, help="requests a second in all (default 80)")
    parser.add_argument("--threads", type=int, default=8, help="connections in parallel (default 8)")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long (default: until Ctrl-C)")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.threads < 1:
        parser.error("--rate must be above 0 and --threads at least 1")
    stop, lock, counts = threading.Event(), threading.Lock(), Counter[str]()
    period, start = args.threads / args.rate, time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True, name=f"load-{i}",
                                args=(args.url, period, start + i * period / args.threads, stop, counts, lock))
               for i in range(args.threads)]
    for thread in threads:
        thread.start()
    shown, last = Counter[str](), start
    try:
        while not stop.wait(REPORT_EVERY if not args.seconds else min(REPORT_EVERY, args.seconds)):
            now = time.monotonic()
            with lock:
                window = counts - shown
                shown = counts.copy()
            total = sum(window.values())
            answers = ", ".join(f"{key}: {n}" for key, n in sorted(window.items()))
            print(f"{total / (now - last):.1f} req/s ({answers or 'no answers'})", flush=True)
            last = now
            if args.seconds and now - start >= args.seconds:
                break
    except KeyboardInterrupt:
        pass
    stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
