"""`opsconsole review` and `opsconsole export`: a history file on a laptop after an incident.

    opsconsole review FILE [--at TIME] [--window DURATION] [--what-if OTHER.yaml] [--print]
    opsconsole export FILE [--since TIME] [--until TIME] [--series PATTERN ...]
                           [--resolution raw|1m|1h] [--format csv|json] [--out PATH]

FILE is a history database (a copy, a live one, one with its -wal beside it) or a compressed
backup (.db.zst / .db.gz); it is never written to (engine/history/opener.py). Neither command
reads a config file or touches the network: the history describes its own runs.

TIME: 14:02, 14:02:07 (on the last recorded day), 2026-11-22 14:02, "30m ago" or --since=-30m
(before the end of the recording), start, end, or epoch seconds.

Without a terminal, `review --print` prints the six panels as text at --at, and `review
--what-if` prints the comparison; so both work in scripts and incident notes.

Exit codes: 0 ok; 1 the file cannot be reviewed (missing, not a history, damaged backup);
2 bad usage (a time or series pattern that does not parse or match, a bad what-if config).
Textual is imported only to open the console.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

EXIT_OK, EXIT_RUNTIME, EXIT_USAGE = 0, 1, 2
COMMANDS = ("review", "export")
PRINT_WIDTH = 100


def add_parsers(sub: Any, add_console_args: Callable[[argparse.ArgumentParser], None]) -> None:
    review = sub.add_parser("review", help="replay a history file (or a backup) with the same panels, read-only")
    review.add_argument("file", metavar="FILE", help="history database or compressed backup (.db.zst, .db.gz)")
    review.add_argument("--at", metavar="TIME", help="start the cursor here (default: the end of the recording)")
    review.add_argument("--window", metavar="DURATION",
                        help="show series over this span (e.g. 24h) instead of the live 120 points")
    review.add_argument("--what-if", metavar="CONFIG", dest="what_if",
                        help="compare the recorded decisions with this config's canary and alert thresholds")
    review.add_argument("--print", action="store_true", dest="print_panels",
                        help="print the six panels at --at as text and exit (no terminal needed)")
    add_console_args(review)
    export = sub.add_parser("export", help="write series of a history file as CSV or JSON")
    export.add_argument("file", metavar="FILE", help="history database or compressed backup")
    export.add_argument("--since", metavar="TIME", help="from (default: the start of the recording)")
    export.add_argument("--until", metavar="TIME", help="to (default: the end of the recording)")
    export.add_argument("--series", metavar="PATTERN", nargs="+", default=[],
                        help="source/metric patterns, e.g. host/mem_pct 'demo:*/error_rate' (default: all)")
    export.add_argument("--resolution", choices=("raw", "1m", "1h"), default="raw",
                        help="raw samples, or minute/hour buckets (avg, min, max, count, last)")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("--out", metavar="PATH", help="write here (created 0600) instead of stdout")


def main(args: argparse.Namespace) -> int:
    from engine.history.opener import HistoryError, open_history

    try:
        opened = open_history(Path(args.file))
    except HistoryError as exc:
        print(f"opsconsole: cannot {args.command} {args.file}: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    try:
        if args.command == "export":
            return export(args, opened)
        return review(args, opened)
    finally:
        opened.close()


def _times(args: argparse.Namespace, rng: Any, *names: str) -> list[float | None] | None:
    from engine.history.cursor import TimeParseError, parse_time

    out: list[float | None] = []
    for name in names:
        text = getattr(args, name)
        if text is None:
            out.append(None)
            continue
        try:
            out.append(parse_time(text, now=rng.last, bounds=rng))
        except TimeParseError as exc:
            print(f"opsconsole: --{name}: {exc}", file=sys.stderr)
            return None
    return out


def export(args: argparse.Namespace, opened: Any) -> int:
    from engine.history.export import ExportError, ExportRequest, collect, write

    found = opened.db.time_range()
    if found is None:
        print(f"opsconsole: {args.file} holds no samples: nothing to export", file=sys.stderr)
        return EXIT_RUNTIME
    from engine.history.cursor import Range

    rng = Range(*found)
    times = _times(args, rng, "since", "until")
    if times is None:
        return EXIT_USAGE
    since, until = times
    request = ExportRequest(rng.first if since is None else since, rng.last if until is None else until,
                            tuple(args.series), args.resolution, args.format)
    try:
        series = collect(opened.db, request)
    except ExportError as exc:
        print(f"opsconsole: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.out:
        path = Path(args.out).expanduser()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:
            print(f"opsconsole: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_RUNTIME
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            rows = write(series, request, out, str(opened.origin))
        print(f"exported {rows:,} rows of {len(series)} series to {path}", file=sys.stderr)
    else:
        write(series, request, sys.stdout, str(opened.origin))
    return EXIT_OK


def review(args: argparse.Namespace, opened: Any) -> int:
    from engine.history.cursor import Range
    from engine.history.opener import HistoryError
    from engine.history.source import HistorySource
    from engine.units import parse_duration

    window = None
    if args.window:
        try:
            window = parse_duration(args.window)
        except ValueError as exc:
            print(f"opsconsole: --window: {exc}", file=sys.stderr)
            return EXIT_USAGE
    found = opened.db.time_range()
    if found is None:
        print(f"opsconsole: {args.file} holds no samples and no events: nothing to review", file=sys.stderr)
        return EXIT_RUNTIME
    times = _times(args, Range(*found), "at")
    if times is None:
        return EXIT_USAGE
    what_if = None
    if args.what_if:
        what_if = _what_if(Path(args.what_if))
        if what_if is None:
            return EXIT_USAGE
    try:
        source = HistorySource(opened, at=times[0], window=window)
    except HistoryError as exc:
        print(f"opsconsole: cannot review {args.file}: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    if args.print_panels or (what_if is not None and not sys.stdout.isatty()):
        if args.print_panels:
            print(panels_text(source))
        if what_if is not None:
            from engine.history.whatif import span_for
            from engine.history.whatif import what_if as compare

            since, until = span_for(source.db, source.range.first, source.range.last)
            print("\n".join(compare(source.db, source.runs, what_if.config, since, until).lines()))
        return EXIT_OK
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("opsconsole: review needs a terminal (stdin and stdout must be a TTY); "
              "for text use --print (panels at --at) or --what-if", file=sys.stderr)
        return EXIT_USAGE
    return _run_app(args, source, what_if)


def _what_if(path: Path) -> Any:
    from engine.config.loader import ConfigError
    from engine.history.whatif import WhatIfInput, load_what_if

    try:
        return WhatIfInput(path, load_what_if(path.expanduser()))
    except ConfigError as exc:
        print(f"opsconsole: bad what-if configuration:\n{exc}", file=sys.stderr)
        return None


def panels_text(source: Any) -> str:
    """The header and the six panels at the cursor, as plain text (the same panel code)."""
    from console.header import header_content
    from console.review import ReviewApp
    from engine.history.cursor import format_time

    snapshot = source.snapshot()
    out = [header_content(snapshot, source.opened.origin.name, True).plain + f" · {format_time(snapshot.taken_at)}"]
    for panel in ReviewApp(source).panels:  # the app's own panels, never laid out: view() only
        view = panel.view(snapshot, PRINT_WIDTH)
        out.append(f"── {panel.TITLE} " + "─" * max(0, PRINT_WIDTH - len(panel.TITLE) - 4))
        out += ["".join(text for text, _ in line).rstrip() for line in view]
    return "\n".join(out)


def _run_app(args: argparse.Namespace, source: Any, what_if: Any) -> int:
    from console.cli import COLOR_SYSTEMS
    from engine.config.schema import LoggingConfig
    from engine.logsetup import setup_logging

    try:  # the default log file (no config is read): nothing may fall through onto the TUI's terminal
        setup_logging(LoggingConfig())
    except OSError as err:
        print(f"opsconsole: cannot write the log file: {err.strerror or err}", file=sys.stderr)
        return EXIT_RUNTIME

    if args.color_system:
        os.environ["TEXTUAL_COLOR_SYSTEM"] = COLOR_SYSTEMS[args.color_system]
        if args.color_system == "mono":
            os.environ["NO_COLOR"] = "1"
    from console.review import ReviewApp

    app = ReviewApp(source, theme=args.theme, what_if=what_if)
    app.low_bandwidth = args.low_bandwidth
    _exit_on_hangup(app, source)
    app.run()
    return app.return_code or EXIT_OK


def _exit_on_hangup(app: Any, source: Any) -> None:
    """SIGHUP (dropped SSH) or SIGTERM: leave promptly. Nothing to flush (the file was never
    written); a private temp copy is removed even if the UI is wedged."""
    from console.cli import HANGUP_EXIT_DEADLINE

    def bail() -> None:
        source.close()
        os._exit(EXIT_OK)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        app.request_exit("terminal hung up" if signum == signal.SIGHUP else "terminated")
        timer = threading.Timer(HANGUP_EXIT_DEADLINE, bail)
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
