"""Codes for events written before they had one (schema version 6's migration).

Until version 6 review told events apart by their English text. This module holds that
knowledge once, frozen like a migration, so nothing else ever parses a message again: each
old row gets its code (engine/eventcodes.py) and the structured data review used to read
out of its message (a target's from/to state, a crashed component's error, a health check's
reason). What it cannot place is `legacy.unclassified`, its message kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from engine import eventcodes as ev
from engine.eventcodes import EventCode

_TARGET_MOVE = re.compile(r"^(?P<name>.+?): (?P<old>[A-Z][A-Z ]*) -> (?P<new>[A-Z][A-Z ]*?)(?:: (?P<error>.*))?$", re.S)
_CRASH = re.compile(r"^.+? failed: (?P<error>.*) — restarting in ", re.S)
_CHECK_WAS = re.compile(r" \(was [A-Z]+\)(?:: (?P<detail>.*))?$", re.S)
_FINISHED = {"idle", "promoted", "rolled-back", "aborted"}
_ALERT_TO = {"pending": ev.ALERT_PENDING, "firing": ev.ALERT_FIRING, "resolved": ev.ALERT_RESOLVED,
             "inactive": ev.ALERT_INACTIVE, "no data": ev.ALERT_NO_DATA, "data": ev.ALERT_DATA_AGAIN}
_ROLLOUT_TO = {"paused": ev.ROLLOUT_PAUSED, "frozen": ev.ROLLOUT_FROZEN, "promoting": ev.ROLLOUT_PROMOTING,
               "promoted": ev.ROLLOUT_PROMOTED, "rolling-back": ev.ROLLOUT_ROLLING_BACK,
               "rolled-back": ev.ROLLOUT_ROLLED_BACK, "aborted": ev.ROLLOUT_ABORTED}

Classified = tuple[EventCode, dict[str, Any] | None]  # the code, and data to store if it changed


def classify(kind: str, severity: str, source: str, message: str, data: dict[str, Any] | None) -> Classified:
    """The code of one pre-version-6 event, and its data completed from the message."""
    d = dict(data or {})
    found = _BY_KIND.get(kind, _unclassified)(severity, source, message, d)
    code, extra = found if isinstance(found, tuple) else (found, None)
    return code, ({**d, **extra} if extra else None)


def _unclassified(severity: str, source: str, message: str, d: dict[str, Any]) -> EventCode:
    return ev.LEGACY


def _engine(severity: str, source: str, message: str, d: dict[str, Any]) -> EventCode | Classified:
    if message.startswith("engine started"):
        name = message.removeprefix("engine started (config ").removesuffix(")") if "(config " in message else ""
        return ev.ENGINE_STARTED, ({"config_name": name} if name and "config_name" not in d else None)
    if message.startswith("engine stopped"):
        return ev.ENGINE_STOPPED
    if "restarts" in d:
        match = _CRASH.match(message)
        extra = {"error": match.group("error") if match else message} if "error" not in d else None
        return ev.COMPONENT_CRASHED, extra
    prefixes = {"config reloaded": ev.CONFIG_RELOADED, "config reload rejected": ev.CONFIG_REJECTED,
                "config reload failed": ev.CONFIG_RELOAD_FAILED}
    for prefix, code in prefixes.items():
        if message.startswith(prefix):
            return code
    return {"control": ev.CONTROL_REFUSED, "export": ev.EXPORT_LISTENING, "demo": ev.DEMO_LISTENING}.get(source, ev.LEGACY)


def _action(severity: str, source: str, message: str, d: dict[str, Any]) -> EventCode:
    if message.startswith("engine paused"):
        return ev.ENGINE_PAUSED
    if message.startswith("engine resumed"):
        return ev.ENGINE_RESUMED
    return ev.TARGET_TOGGLED if "target" in d else ev.LEGACY


def _health(severity: str, source: str, message: str, d: dict[str, Any]) -> EventCode | Classified:
    if source.startswith("health:") and "status" in d:
        match = _CHECK_WAS.search(message)
        return ev.CHECK_CHANGED, {"reason": (match.group("detail") or "") if match else ""}
    if "target" in d:
        return ev.TARGET_COMPONENT_CHANGED if ": component " in message else ev.TARGET_HEALTH_CHANGED
    for text, code in (("history is not being written", ev.STORE_WRITE_FAILED),
                       ("history writes resumed", ev.STORE_WRITE_RESUMED),
                       ("host reading has not finished", ev.HOST_READING_HUNG),
                       ("host reading finished again", ev.HOST_READING_RESUMED),
                       (": no data: ", ev.HOST_NO_DATA), (": data again", ev.HOST_DATA_AGAIN)):
        if text in message:
            return code
    return ev.LEGACY


def _gap(severity: str, source: str, message: str, d: dict[str, Any]) -> EventCode:
    if message.startswith("gap opened"):
        return ev.GAP_OPENED
    if message.startswith("gap closed"):
        return ev.GAP_CLOSED
    return ev.GAP_HISTORY_UNREAD


def _alert(severity: str, source: str, message: str, d: dict[str, Any]) -> EventCode:
    if d.get("to") in _ALERT_TO:
        return _ALERT_TO[d["to"]]
    for key, code in (("silence", ev.SILENCE_ADDED), ("silence_removed", ev.SILENCE_LIFTED),
                      ("silence_expired", ev.SILENCE_EXPIRED)):
        if key in d:
            return code
    for text, code in (("silences not restored", ev.SILENCES_UNREAD), ("restored ", ev.SILENCES_RESTORED),
                       ("rule windows not read", ev.ALERT_WINDOWS_UNREAD), ("pushes work again", ev.PUSH_RECOVERED),
                       ("alertmanager ", ev.PUSH_FAILING)):
        if message.startswith(text):
            return code
    return ev.LEGACY


def _collect(severity: str, source: str, message: str, d: dict[str, Any]) -> EventCode | Classified:
    target = d.get("target")
    if target is not None and ": circuit " in message:
        return ev.TARGET_CIRCUIT
    match = _TARGET_MOVE.match(message)
    if target is not None and match and match.group("name") == target:
        return ev.TARGET_STATE, {"from": match.group("old"), "to": match.group("new"), "error": match.group("error")}
    return ev.TOKEN_EVENT if "token" in message else ev.LEGACY


def _monitor(severity: str, source: str, message: str, d: dict[str, Any]) -> EventCode:
    for text, code in ((" restarted: ", ev.PROCESS_RESTARTED), (": following pid", ev.PROCESS_FOLLOWED),
                       (" is gone", ev.PROCESS_GONE), (": not running", ev.PROCESS_MISSING)):
        if text in message:
            return code
    return ev.LEGACY


def _watch(severity: str, source: str, message: str, d: dict[str, Any]) -> EventCode:
    if "held_back" in d:
        return ev.LOG_HELD_BACK if "file" in d else ev.DIR_HELD_BACK
    if "sample" in d:
        return ev.LOG_UNPARSED
    if "line" in d:
        return ev.LOG_MATCHED
    if "processor" in d:
        return ev.DIR_FILE_FAILED
    if "path" in d:
        return ev.DIR_FILE_VANISHED
    if "dir" in d:
        if message.startswith("cannot watch"):
            return ev.DIR_POLLING
        return ev.DIR_WAITING if message.startswith("waiting for") else ev.DIR_WATCHING
    if "file" in d:
        status = message.startswith(("waiting for", "tailing ")) or severity == "warning"
        return ev.LOG_STATUS if status else ev.LOG_NOTE
    return ev.LEGACY


def _backup(severity: str, source: str, message: str, d: dict[str, Any]) -> EventCode:
    if "removed" in d:
        return ev.BACKUP_PARTIALS_REMOVED
    if message.startswith("backup directory problem"):
        return ev.BACKUP_DIR_PROBLEM
    return ev.BACKUP_DONE if severity == "info" else ev.BACKUP_FAILED


def _rollout(severity: str, source: str, message: str, d: dict[str, Any]) -> EventCode | Classified:
    to, before = d.get("to"), d.get("from")
    if to is None:
        for text, code in (("promotion held at", ev.ROLLOUT_PROMOTION_HELD), ("frozen at", ev.ROLLOUT_FROZEN_FAILING),
                           ("could not re-apply", ev.ROLLOUT_REAPPLY_FAILED), ("weight ", ev.ROLLOUT_REAPPLIED),
                           ("an actuation was still running", ev.ROLLOUT_ACTUATION_CUT_OFF),
                           ("cannot read the last rollout", ev.ROLLOUT_HISTORY_UNREAD),
                           ("rollout #", ev.ROLLOUT_UNKNOWN_STATUS)):
            if message.startswith(text):
                return code
        return ev.LEGACY
    if message.startswith(("recovered after a restart", "was rolling back at")):
        return ev.ROLLOUT_RECOVERED
    if to in ("running", "waiting-for-promotion") and before in _FINISHED:
        return ev.ROLLOUT_STARTED
    if to in ("running", "waiting-for-promotion") and message.startswith("promoted to"):
        return ev.ROLLOUT_STAGE_ENTERED
    if to != "aborted" and to == before:
        cause = ("rollback_failed" if message.startswith("ROLLBACK FAILED")
                 else "actuation_cut_off" if message.startswith("an actuation was still running") else "")
        return ev.ROLLOUT_NOTED, ({"cause": cause} if cause else None)
    if to in ("running", "waiting-for-promotion"):
        return ev.ROLLOUT_RESUMED
    if to == "paused" and "the engine is stopping" in message:
        return ev.ROLLOUT_PAUSED, {"cause": "engine_stopping"}
    return _ROLLOUT_TO.get(str(to), ev.LEGACY)


_BY_KIND = {"engine": _engine, "action": _action, "health": _health, "gap": _gap, "alert": _alert,
            "collect": _collect, "monitor": _monitor, "watch": _watch, "backup": _backup, "rollout": _rollout,
            "store": lambda severity, source, message, d: ev.RETENTION_RAN}


def updates(rows: Iterable[tuple[int, str, str, str, str, str | None]]) -> Iterable[tuple[str, str | None, int]]:
    """(code, data JSON or None to keep it, id) for each (id, kind, severity, source, message, data) row."""
    for rowid, kind, severity, source, message, data in rows:
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        code, changed = classify(kind, severity, source, message or "", parsed if isinstance(parsed, dict) else None)
        yield code.code, (json.dumps(changed, ensure_ascii=False, separators=(",", ":")) if changed else None), rowid
