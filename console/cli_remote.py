"""The CLI around a running engine: `--headless` (run one), `attach` (a console on it) and the
rollout verbs (thin clients of its control socket, engine/control/).

    opsconsole --headless [--config PATH] [--profile NAME] [--read-only]
    opsconsole attach     [--history DB | --config PATH [--profile NAME]] [--read-only] [--theme NAME] [--color-system ...]
    opsconsole rollout status [--history DB | --config PATH] [--json]
    opsconsole rollout VERB [--FLAG] [--reason TEXT] [--yes]   (engine/verbs.py: promote [--full], rollback, ...)

Which engine: --history, else the found config's store.path, else the one running for this user
(console/engine_target.py); the config is never loaded whole, so the engine's ${SECRET}s are not
needed here. The attached console takes its ui settings from the engine (its `hello`). Verbs are
audited by the engine with this user, the SSH client address and origin "cli" (or "attach" for
the console). The verbs, their flags and which ones ask first are engine/verbs.py's table; a verb that
asks (roll back, promote --full) asks the console's question on a terminal, and needs --yes without one.

Exit codes: 0 done; 1 the engine could not be reached, refused the verb or failed it, or (for
--headless) could not start — e.g. another engine owns the history; 2 bad config or usage, or
several engines run and none was chosen. Textual and pydantic are imported only by `attach`
and `--headless`: `rollout status` is a socket read (bench/cli.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.verbs import VERB_SPECS, VerbSpec

if TYPE_CHECKING:
    from engine.snapshot import RuleView

EXIT_OK, EXIT_RUNTIME, EXIT_CONFIG = 0, 1, 2
COMMANDS = ("attach", "rollout")
ROLLOUT_ONLY = ("rollout",)  # of the snapshot: all that status and the confirmations read
EXIT_CODES_TEXT = ("Exit codes: 0 done; 1 engine not reachable, or it refused or failed the verb; "
                   "2 bad config or usage, or several engines run and none was chosen.")
HISTORY_HELP = ("the history database of the engine (its store.path, e.g. ~/.local/state/opsconsole/history.db); "
                "default: the config's, else the one engine running for this user")
Loader = Callable[[str | None, str | None], Any]  # console.cli._load: LoadedConfig, or None after printing why


def rule_line(rule: RuleView) -> str:
    """"error rate 0.4% (2/500 in 25s) / 1.0%  PASS  0/3 consecutive · 0/10 total": the value, its
    evidence and the limit exactly as the Rollout panel writes them (its head_parts), so a rate
    reads 6.2% here too, whatever the rule is named."""
    from console.rollout_text import head_parts
    from engine.snapshot import Verdict

    total = f" · {rule.total}/{rule.total_limit} total" if rule.total_limit is not None else ""
    counters = f"{rule.consecutive}/{rule.consecutive_limit} consecutive{total}"
    state = (rule.state or "not checked yet").upper()
    why = f" ({rule.why})" if rule.why else ""
    if not rule.op:  # the "canary up" check: a state, no value
        return f"{rule.metric}: {'DOWN' if rule.state == Verdict.BREACH else state}{why}  {counters}"
    head = "".join(text for text, _ in head_parts(rule, sys.maxsize)[0])  # one line: no width limit
    return f"{head}  {state}{why}  {counters}"


def add_parsers(sub: Any, add_config_args: Callable[[argparse.ArgumentParser], None],
                add_console_args: Callable[[argparse.ArgumentParser], None]) -> None:
    attach = sub.add_parser("attach", help="open the console on a running headless engine (same host, same user)",
                            epilog=EXIT_CODES_TEXT)
    attach.add_argument("--history", metavar="DB", help=HISTORY_HELP)
    add_config_args(attach)
    add_console_args(attach)
    rollout = sub.add_parser("rollout", help="show or drive the canary rollout of a running engine",
                             epilog=EXIT_CODES_TEXT)
    verbs = rollout.add_subparsers(dest="verb", metavar="VERB", required=True)
    status = verbs.add_parser("status", help="print the rollout's state", epilog=EXIT_CODES_TEXT)
    status.add_argument("--history", metavar="DB", help=HISTORY_HELP)
    add_config_args(status)
    status.add_argument("--json", action="store_true", help="the rollout as JSON")
    for name, specs in subcommands().items():
        p = verbs.add_parser(name, help=specs[0].help, epilog=EXIT_CODES_TEXT)
        p.add_argument("--history", metavar="DB", help=HISTORY_HELP)
        add_config_args(p)
        p.add_argument("--reason", default="", help="why (recorded in the audit and the rollout's events)")
        p.set_defaults(spec=specs[0])
        for s in specs[1:]:  # `promote --full` sends promote_full
            asks = " (asks for confirmation)" if s.confirm else ""
            p.add_argument(f"--{s.flag}", dest="spec", action="store_const", const=s,
                           help=f"{s.help}{asks}".replace("%", "%%"))
        if any(s.confirm for s in specs):
            p.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def subcommands() -> dict[str, list[VerbSpec]]:
    """CLI subcommand -> the verbs it sends: its own first, then those it sends with a flag."""
    by_name: dict[str, list[VerbSpec]] = {}
    for spec in sorted(VERB_SPECS, key=lambda s: bool(s.flag)):
        by_name.setdefault(spec.subcommand, []).append(spec)
    return by_name


def main(args: argparse.Namespace) -> int:
    """`attach` and `rollout ...`: find the engine (never loading the config), then talk to it."""
    from console.engine_target import TargetError, ask_on_terminal, find_target

    try:
        target = find_target(args.history, args.config, args.profile, choose=ask_on_terminal)
    except TargetError as err:
        print(f"opsconsole: {err}", file=sys.stderr)
        return err.exit_code
    for warning in target.warnings:  # someone else's socket was found: the operator must know
        print(f"opsconsole: warning: skipped, not safe to talk to: {warning}", file=sys.stderr)
    if args.command == "attach":
        return attach(args, target.db)
    return rollout(args, target.db)


# ------------------------------------------------------------------------------------ headless


def run_headless(args: argparse.Namespace, load: Loader) -> int:
    """`opsconsole --headless`: the engine on this thread until SIGTERM/SIGINT (exit 0)."""
    import asyncio

    from console.cli import start_refused
    from engine.config.loader import load_config
    from engine.headless import serve_headless
    from engine.lock import EngineLockedError
    from engine.logsetup import setup_logging
    from engine.runtime import Engine
    from engine.store import StoreError

    loaded = load(args.config, args.profile)
    if loaded is None:
        return EXIT_CONFIG
    if start_refused(loaded, headless=True):  # before the log, the lock and the history: nothing left behind
        return EXIT_RUNTIME
    try:
        setup_logging(loaded.config.logging, also_stderr=True)
    except OSError as err:
        print(f"opsconsole: cannot write the log file {loaded.config.logging.file}: {err.strerror}", file=sys.stderr)
        return EXIT_RUNTIME
    path, profile = loaded.path, loaded.profile
    engine = Engine(loaded, read_only=args.read_only, headless=True, freeze_heap=True)
    try:
        asyncio.run(serve_headless(engine, lambda: load_config(path, profile)))
    except EngineLockedError as err:
        print(f"opsconsole: {err}", file=sys.stderr)
        return EXIT_RUNTIME
    except (StoreError, OSError) as err:
        print(f"opsconsole: the engine could not start: {err}", file=sys.stderr)
        return EXIT_RUNTIME
    return EXIT_OK


# ------------------------------------------------------------------------------------ attach


def attach(args: argparse.Namespace, db: Path) -> int:
    from console.attach import AttachSource
    from console.cli import apply_color_system, exit_on_hangup, needs_terminal
    from engine.logsetup import setup_logging

    if needs_terminal():
        return EXIT_CONFIG
    ui, logging_config = _engine_settings(db)
    if ui is None:
        return EXIT_RUNTIME
    source = AttachSource(db, refresh=ui.refresh)
    source.start()
    if source.unreachable is not None:
        source.close()
        print(f"opsconsole: cannot attach: {source.unreachable}", file=sys.stderr)
        return EXIT_RUNTIME
    # Not the engine's own log file: two processes rotating one file would lose lines.
    log_file = Path(logging_config.file).with_name(Path(logging_config.file).stem + "-attach.log")
    try:
        setup_logging(logging_config.model_copy(update={"file": log_file}))
    except OSError as err:
        source.close()
        print(f"opsconsole: cannot write the log file {log_file}: {err.strerror}", file=sys.stderr)
        return EXIT_RUNTIME
    apply_color_system(args.color_system or ui.color_system)

    from console.app import OpsConsoleApp

    app = OpsConsoleApp(source, title=f"attach {db.name}", refresh=ui.refresh,
                        theme=args.theme or ui.theme, read_only=args.read_only, bell=ui.bell,
                        low_bandwidth=args.low_bandwidth or ui.low_bandwidth)
    exit_on_hangup(app, source)
    try:
        app.run()
    finally:
        source.close()  # detaching tells the engine nothing: it and any rollout carry on
    return app.return_code or EXIT_OK


def _engine_settings(db: Path) -> tuple[Any, Any]:
    """The engine's own ui and logging settings, from its hello (defaults for an engine too old
    to send them); (None, None) after saying why when it cannot be reached."""
    from pydantic import ValidationError

    from engine.config.schema import LoggingConfig, UiConfig
    from engine.control.client import ControlClient, ControlRefused, ControlUnavailable

    try:
        with ControlClient(db) as client:
            facts = client.hello()
    except (ControlUnavailable, ControlRefused) as exc:
        print(f"opsconsole: cannot attach: {exc}{_others(db, exc)}", file=sys.stderr)
        return None, None
    settings = []
    for model, key in ((UiConfig, "ui"), (LoggingConfig, "logging")):
        try:
            settings.append(model.model_validate(facts.get(key) or {}))
        except ValidationError:  # another version's settings: ours are good enough to look with
            settings.append(model())
    return settings[0], settings[1]


def _others(db: Path, exc: Exception) -> str:
    """After "no engine is running for DB": the engines that do, to choose from."""
    from console.engine_target import others_hint

    return others_hint(db) if str(exc).startswith("no engine is running") else ""


# ------------------------------------------------------------------------------------ rollout verbs


def rollout(args: argparse.Namespace, db: Path) -> int:
    from engine.commands import Actor, Command
    from engine.control.client import ControlClient, ControlRefused, ControlUnavailable

    try:
        with ControlClient(db) as client:
            if args.verb == "status":
                return _print_status(client.snapshot(only=ROLLOUT_ONLY), as_json=args.json)
            spec: VerbSpec = args.spec
            name = spec.command
            if spec.confirm and not args.yes:
                refused = _confirm(spec, client.snapshot(only=ROLLOUT_ONLY))
                if refused is not None:
                    print(f"opsconsole: {refused}", file=sys.stderr)
                    return EXIT_CONFIG
            args_sent = {"reason": args.reason} if args.reason else {}
            result = client.command(Command(name, args_sent, Actor.current("cli")), "cli")
    except ControlUnavailable as exc:
        print(f"opsconsole: {exc}{_others(db, exc)}", file=sys.stderr)
        return EXIT_RUNTIME
    except ControlRefused as exc:
        print(f"opsconsole: the engine refused: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    stream = sys.stdout if result.ok else sys.stderr
    print(f"{name}: {result.message}", file=stream)
    return EXIT_OK if result.ok else EXIT_RUNTIME


def _confirm(spec: VerbSpec, snapshot: Any) -> str | None:
    """None if the operator said yes; otherwise why the verb is not sent. The question is the
    console's dialog's; a verb that cannot run now is sent anyway, for the engine to refuse and audit."""
    from console.rollout_text import confirm_question

    if not sys.stdin.isatty():
        return f"{spec.command} changes live traffic: confirm with --yes (no terminal to ask on)"
    asked = confirm_question(spec, snapshot)
    if isinstance(asked, str):
        return None
    answer = input(f"{asked.text} [y/N] ").strip().lower()
    return None if answer in ("y", "yes") else f"{spec.command}: cancelled"


def _print_status(snapshot: Any, *, as_json: bool) -> int:
    from engine.snapshot import RolloutStatus
    from engine.snapshot_codec import to_jsonable
    from engine.units import format_duration

    r = snapshot.rollout
    if as_json:
        print(json.dumps(to_jsonable(r), indent=2))
        return EXIT_OK
    if r is None:
        configured = "canary" in snapshot.configured
        print("no rollout" + ("" if configured else " (no canary: section in the engine's config)"))
        return EXIT_OK
    ident = f"#{r.id} " if r.id is not None else ""
    heading = f", heading to {r.target_weight}%" if r.target_weight != r.weight else ""
    print(f"rollout {ident}{r.service}: {r.status} at {r.weight}% (stage {r.stage_index + 1}/{len(r.stages)}{heading})")
    if r.alert:
        print(f"  !! {r.alert}")
    if r.next_promotion_at is not None:
        print(f"  next promotion in {format_duration(max(0.0, r.next_promotion_at - time.time()))}")
    elif r.hold_left is not None:
        print(f"  hold left: {format_duration(r.hold_left)}")
    from console.rollback_window import status_line

    if window := status_line(r, time.time()):
        print(f"  {window}")
    if r.status in (RolloutStatus.PAUSED, RolloutStatus.WAITING):
        print("  still guarded: a breach rolls back by itself")
    elif r.status == RolloutStatus.FROZEN:
        print("  frozen: automatic rollback is OFF")
    for rule in r.rules:
        print(f"  {rule_line(rule)}")
    for c in r.comparisons:
        shown = f"{c.canary_n} vs {c.baseline_n}" if c.canary_n else ""
        p = f", {c.test} p={c.p_value:.2g}" if c.p_value is not None else ""
        why = f" ({c.why})" if c.why else ""
        print(f"  compare {c.metric}: {c.verdict}{why} {shown}{p}".rstrip())
    if r.last_decision:
        print(f"  last decision: {r.last_decision}")
    if r.verbs:
        print(f"  verbs now: {', '.join(r.verbs)}")
    return EXIT_OK
