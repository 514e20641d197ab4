"""`opsconsole` command line: the TUI (default), `config check`, `config show`, `backup`, `restore`
(console/cli_backup.py), `review`, `export` (console/cli_review.py).

Exit codes: 0 ok, 1 runtime failure, 2 bad config or usage (argparse also exits 2 on bad usage).
Textual is imported only by the commands that open the TUI, so `config check` stays fast and
works on a machine without a terminal.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from console import cli_backup, cli_remote, cli_review
from engine import __version__

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2
SUBCOMMANDS = ("run", "config", *cli_backup.COMMANDS, *cli_review.COMMANDS)
# Our names for colour systems -> Textual's (read from the environment when textual is imported).
COLOR_SYSTEMS = {"auto": "auto", "truecolor": "truecolor", "256": "256", "16": "standard", "mono": "standard"}
HANGUP_EXIT_DEADLINE = 1.5  # seconds: after a hang-up the process is gone within 2 s, whatever happens
ENGINE_START_TIMEOUT = 10.0  # seconds: Engine.start()'s own limit


def build_parser(remote_only: bool = False) -> argparse.ArgumentParser:
    """Every command's parser; with `remote_only`, only attach's and rollout's: argparse builds the
    ~30 subparsers in ~13 ms, a tenth of what `rollout status` may take (bench/cli.py)."""
    parser = argparse.ArgumentParser(
        prog="opsconsole",
        description="A terminal operations console: live panels, canary rollouts, one SQLite history.",
        epilog="Exit codes: 0 ok, 1 runtime failure, 2 bad config or usage.",
    )
    parser.add_argument("--version", action="version", version=f"opsconsole {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    if not remote_only:
        add_local_parsers(sub)
    cli_remote.add_parsers(sub, add_config_args, add_console_args)
    if not remote_only:
        cli_backup.add_parsers(sub, add_config_args)
        cli_review.add_parsers(sub, add_console_args)
    return parser


def add_local_parsers(sub: Any) -> None:
    """`run` and `config`."""
    run = sub.add_parser("run", help="open the console (the default command)")
    add_config_args(run)
    add_console_args(run)
    run.add_argument("--headless", action="store_true",
                     help="run the engine alone, no terminal; stop with SIGTERM, reload with SIGHUP (docs/headless.md)")

    config = sub.add_parser("config", help="validate or show the configuration")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_sub.add_parser("check", help="validate a config file: exit 0 if good, 2 with the problems if not")
    check.add_argument("path", nargs="?", help="config file (default: the normal search order)")
    check.add_argument("--profile", help="also validate this profile")
    show = config_sub.add_parser("show", help="print the effective config, secrets masked")
    add_config_args(show)


def add_console_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--read-only", action="store_true", help="disable every action that changes anything")
    parser.add_argument(
        "--low-bandwidth",
        action="store_true",
        help="for slow links: sparklines every 5s and uncoloured, the clock in minutes (default: ui.low_bandwidth)",
    )
    parser.add_argument("--theme", help="theme name (default: ui.theme from the config)")
    parser.add_argument(
        "--color-system",
        choices=list(COLOR_SYSTEMS),
        help="colours to use; 'mono' disables colour (default: ui.color_system, then auto-detect)",
    )


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        help="config file (default: $OPSCONSOLE_CONFIG, ./opsconsole.yaml, ~/.config/opsconsole/config.yaml, "
             "then the built-in demo)",
    )
    parser.add_argument("--profile", help="profile from the config's profiles: (default: $OPSCONSOLE_PROFILE)")


# Options whose value may start with '-' ("-5m": five minutes before the end). argparse reads a
# separate "-5m" as an unknown option, so `--since -5m` is joined into `--since=-5m` first.
TIME_OPTIONS = ("--at", "--since", "--until")


def join_time_values(argv: list[str]) -> list[str]:
    out: list[str] = []
    items = iter(argv)
    for item in items:
        if item in TIME_OPTIONS:
            value = next(items, None)
            out.append(item if value is None else f"{item}={value}")
        else:
            out.append(item)
    return out


def main(argv: list[str] | None = None) -> int:
    """The command line; output cut off by a closed pipe (`| head`) ends quietly, as in other tools."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # Python flushes stdout again at exit and would print a second traceback: point it at
        # /dev/null first. 141 is what a shell reports for a process killed by SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


def _main(argv: list[str] | None = None) -> int:
    argv = join_time_values(list(sys.argv[1:] if argv is None else argv))
    # `opsconsole --config x.yaml` means `opsconsole run --config x.yaml`.
    if not argv or (argv[0] not in SUBCOMMANDS + cli_remote.COMMANDS and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, "run")
    args = build_parser(remote_only=argv[0] in cli_remote.COMMANDS).parse_args(argv)
    if args.command == "config":
        if args.config_command == "check":
            return config_check(args.path, args.profile)
        return config_show(args.config, args.profile)
    if args.command in cli_remote.COMMANDS:
        return cli_remote.main(args)
    if args.command in cli_backup.COMMANDS:
        return cli_backup.main(args, _load)
    if args.command in cli_review.COMMANDS:
        return cli_review.main(args)
    return run_console(args)


def _load(path: str | None, profile: str | None):
    """The validated config, or None after printing the problems (the caller exits 2)."""
    found = _load_located(path, profile)
    return found[1] if found is not None else None


def start_refused(loaded, *, headless: bool = False) -> bool:
    """True, after saying why, when the engine could not start with this config (exit 1, as when
    the history cannot be opened): checked before the log file or anything else is written, so a
    refused start leaves nothing behind."""
    from engine.preflight import start_problems

    problems = start_problems(loaded, headless=headless)
    if problems:  # one problem on the line, several below it
        joined = problems[0] if len(problems) == 1 else "\n" + "\n".join(problems)
        print(f"opsconsole: the engine could not start: {joined}", file=sys.stderr)
    return bool(problems)


def _load_located(path: str | None, profile: str | None):
    """(where the config was found, the validated config), or None after printing the problems."""
    from engine.config.loader import ConfigError, load_config
    from engine.config.lookup import locate_config

    try:
        location = locate_config(path)
        return location, load_config(location.path, profile)
    except ConfigError as err:
        print(f"opsconsole: bad configuration:\n{err}", file=sys.stderr)
        return None


def config_check(path: str | None, profile: str | None) -> int:
    found = _load_located(path, profile)
    if found is None:
        return EXIT_CONFIG
    location, loaded = found
    from engine.preflight import preflight

    problems = preflight(loaded)
    if problems:  # what the engine would refuse at start: say it now, the same way
        print("opsconsole: bad configuration:\n" + "\n".join(problems), file=sys.stderr)
        return EXIT_CONFIG
    suffix = f", profile {loaded.profile}" if loaded.profile else ""
    print(f"{location.describe()}: OK{suffix}")
    return EXIT_OK


def config_show(path: str | None, profile: str | None) -> int:
    found = _load_located(path, profile)
    if found is None:
        return EXIT_CONFIG
    location, loaded = found
    print(f"# effective config from {location.describe()}" + (f", profile {loaded.profile}" if loaded.profile else ""))
    print(loaded.show())
    return EXIT_OK


def needs_terminal() -> bool:
    """True, after saying why, when there is no terminal for the console."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        return False
    print("opsconsole: the console needs a terminal (stdin and stdout must be a TTY); "
          "to validate a config use 'opsconsole config check', to run the engine without one "
          "'opsconsole --headless'", file=sys.stderr)
    return True


def apply_color_system(color_system: str) -> None:
    """Before textual is imported: it reads the colour system from the environment."""
    os.environ["TEXTUAL_COLOR_SYSTEM"] = COLOR_SYSTEMS[color_system]
    if color_system == "mono":
        os.environ["NO_COLOR"] = "1"


def run_console(args: argparse.Namespace) -> int:
    from engine.allocator import tune_for_long_runs

    tune_for_long_runs()  # before the engine's threads exist: they are where arenas multiply
    if args.headless:
        return cli_remote.run_headless(args, _load)
    found = _load_located(args.config, args.profile)
    if found is None:
        return EXIT_CONFIG
    location, loaded = found
    if start_refused(loaded):
        return EXIT_RUNTIME
    if needs_terminal():
        return EXIT_CONFIG
    ui = loaded.config.ui
    apply_color_system(args.color_system or ui.color_system)

    from engine.lock import EngineLockedError
    from engine.logsetup import setup_logging
    from engine.runtime import Engine, EngineStartError
    from engine.store import StoreError

    try:
        setup_logging(loaded.config.logging)
    except OSError as err:
        print(f"opsconsole: cannot write the log file {loaded.config.logging.file}: {err.strerror}", file=sys.stderr)
        return EXIT_RUNTIME
    engine = Engine(loaded, read_only=args.read_only, freeze_heap=True)

    from console.app import OpsConsoleApp

    app = OpsConsoleApp(
        engine,
        title=location.label(),  # the header names the file and how it was found (console/header.py)
        refresh=ui.refresh,
        theme=args.theme or ui.theme,
        read_only=args.read_only,
        bell=ui.bell,
        low_bandwidth=args.low_bandwidth or ui.low_bandwidth,
        starter=engine.start,  # behind the first frame (console/app.py); a failure ends the console
    )
    exit_on_hangup(app, engine)
    try:
        app.run()
    finally:
        if app.start_thread is not None:  # quit while the engine was starting: let it finish first
            app.start_thread.join(ENGINE_START_TIMEOUT)
        engine.stop()
    err = app.start_error
    if isinstance(err, EngineLockedError):  # another engine owns this history: the sentence says who, and what to do
        print(f"opsconsole: {err}", file=sys.stderr)
        return EXIT_RUNTIME
    if isinstance(err, StoreError | EngineStartError | OSError):
        print(f"opsconsole: the engine could not start: {err}", file=sys.stderr)
        return EXIT_RUNTIME
    if err is not None:
        raise err
    return app.return_code or EXIT_OK


def exit_on_hangup(app, engine) -> None:
    """SIGHUP (dropped SSH) or SIGTERM: shut the engine down cleanly and exit within 2 s.

    The app is asked to exit; a watchdog makes sure the process is gone even if the terminal's
    disappearance wedges the UI (a closed stdin must never leave us spinning).
    """

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        reason = "terminal hung up" if signum == signal.SIGHUP else "terminated"
        app.request_exit(reason)
        threading.Thread(target=_watchdog, args=(engine, reason), name="exit-watchdog", daemon=True).start()

    signal.signal(signal.SIGHUP, on_signal)
    signal.signal(signal.SIGTERM, on_signal)


def _watchdog(engine, reason: str) -> None:
    import logging
    import time
    import traceback

    time.sleep(HANGUP_EXIT_DEADLINE)
    # Where the UI thread is stuck: this exit path is a fallback, and the next wedge needs its stack.
    main_frame = sys._current_frames().get(threading.main_thread().ident or 0)
    stuck_at = "".join(traceback.format_stack(main_frame)[-6:]) if main_frame else "(no main thread)"
    logging.getLogger("opsconsole").error(
        "forced exit %.1fs after: %s; the UI thread was at:\n%s", HANGUP_EXIT_DEADLINE, reason, stuck_at
    )
    engine.stop(timeout=0.4)
    os._exit(EXIT_OK)


if __name__ == "__main__":
    sys.exit(main())
