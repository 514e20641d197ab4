"""Every event the engine records, by a stable machine code: the one list.

An event's message is for people and may be reworded at any time; review, what-if and the
timeline read the code and the structured data only (tests/test_event_rewording.py rewrites
every message and checks they are unchanged). docs/schema.md's table of codes is generated
from this list (`python -m engine.eventcodes`) and a test fails when it is stale.

A code never changes meaning once released; a new meaning is a new code. `kind` is the coarse
family the event log filters on (`kind:rollout`), kept from before codes existed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventCode:
    code: str
    kind: str
    means: str
    data: str = ""  # the keys of its data, for docs/schema.md

    def __str__(self) -> str:
        return self.code


CATALOGUE: dict[str, EventCode] = {}


def _code(code: str, kind: str, means: str, data: str = "") -> EventCode:
    assert code not in CATALOGUE, code
    CATALOGUE[code] = entry = EventCode(code, kind, means, data)
    return entry


# -- the engine ------------------------------------------------------------------------------------
ENGINE_STARTED = _code("engine.started", "engine", "the engine started; its data is the run record (config, parts)",
                       "format, config_name, profile, read_only, configured, components, config")
ENGINE_STOPPED = _code("engine.stopped", "engine", "the engine stopped cleanly")
ENGINE_PAUSED = _code("engine.paused", "action", "an operator paused collection and analysis", "actor")
ENGINE_RESUMED = _code("engine.resumed", "action", "an operator resumed the engine", "actor")
CONFIG_RELOADED = _code("config.reloaded", "engine", "a new config was loaded and components restarted")
CONFIG_REJECTED = _code("config.rejected", "engine", "a reload was refused; the running config is kept", "error")
CONFIG_RELOAD_FAILED = _code("config.reload_failed", "engine", "a reload failed half-way; components may be down")
COMPONENT_CRASHED = _code("component.crashed", "engine", "a component failed and is restarted after a backoff",
                          "restarts, backoff_s, error")
CONTROL_REFUSED = _code("control.refused", "engine", "the control socket refused a client", "pid, error")
EXPORT_LISTENING = _code("export.listening", "engine", "the Prometheus exporter listens", "url, loopback")
DEMO_LISTENING = _code("demo.listening", "engine", "the built-in demo service listens", "url")
DEMO_CHANGED = _code("demo.changed", "engine", "the demo router's weights or a version's faults changed")
STORE_WRITE_FAILED = _code("store.write_failed", "health", "the history is not being written", "error")
STORE_WRITE_RESUMED = _code("store.write_resumed", "health", "history writes work again")
RETENTION_RAN = _code("store.retention", "store", "old samples were rolled up or deleted",
                      "rolled_samples, deleted, freed_pages")

# -- gaps ------------------------------------------------------------------------------------------
GAP_OPENED = _code("gap.opened", "gap", "a series stopped delivering", "series, start, cause, interval_s, silent_s")
GAP_CLOSED = _code("gap.closed", "gap", "a series delivers again", "series, start, end, duration_s, cause")
GAP_HISTORY_UNREAD = _code("gap.history_unread", "gap", "gaps across a restart could not be read", "error")

# -- alerts ----------------------------------------------------------------------------------------
_ALERT_DATA = "rule, from, to, series, value, op, threshold, severity (function, over, ... for windowed rules)"
ALERT_PENDING = _code("alert.pending", "alert", "a rule's condition holds, not yet for its `for`", _ALERT_DATA)
ALERT_FIRING = _code("alert.firing", "alert", "a rule fires (info severity while muted)", _ALERT_DATA + ", muted_by")
ALERT_RESOLVED = _code("alert.resolved", "alert", "a firing rule resolved", _ALERT_DATA)
ALERT_INACTIVE = _code("alert.inactive", "alert", "a pending rule's condition stopped holding", _ALERT_DATA)
ALERT_NO_DATA = _code("alert.no_data", "alert", "a rule's series has no data", _ALERT_DATA + ", reason")
ALERT_DATA_AGAIN = _code("alert.data_again", "alert", "a rule's series has data again", _ALERT_DATA)
ALERT_WINDOWS_UNREAD = _code("alert.windows_unread", "alert", "rule windows could not be filled from the history",
                             "error")
SILENCE_ADDED = _code("silence.added", "alert", "an operator silenced a rule", "silence")
SILENCE_LIFTED = _code("silence.lifted", "alert", "a silence was lifted early", "silence_removed")
SILENCE_EXPIRED = _code("silence.expired", "alert", "a silence ran out", "silence_expired")
SILENCES_RESTORED = _code("silence.restored", "alert", "silences were restored from the history at start", "count")
SILENCES_UNREAD = _code("silence.unread", "alert", "silences could not be restored from the history", "error")
PUSH_FAILING = _code("alertmanager.failing", "alert", "pushes to an Alertmanager fail (retried)", "url, error")
PUSH_RECOVERED = _code("alertmanager.recovered", "alert", "pushes to an Alertmanager work again", "url")

# -- health ----------------------------------------------------------------------------------------
CHECK_CHANGED = _code("check.changed", "health", "a health check's status changed (source health:<check>)",
                      "status, previous, value, limit, reason")
TARGET_HEALTH_CHANGED = _code("target.health_changed", "health", "a target's own health status changed",
                              "target, track, url, from, to, labels...")
TARGET_COMPONENT_CHANGED = _code("target.component_changed", "health", "a component a target reports changed",
                                 "target, track, url, component, from, to")
HOST_READING_HUNG = _code("host.reading_hung", "health", "host reading did not finish (a hung mount?)")
HOST_READING_RESUMED = _code("host.reading_resumed", "health", "host reading finished again")
HOST_NO_DATA = _code("host.no_data", "health", "a host measure has no data", "what, error")
HOST_DATA_AGAIN = _code("host.data_again", "health", "a host measure has data again", "what")

# -- collection ------------------------------------------------------------------------------------
TARGET_STATE = _code("target.state_changed", "collect", "a target's scrape state changed (OK, RETRYING, FAIL, ...)",
                     "target, track, url, from, to, error, labels...")
TARGET_CIRCUIT = _code("target.circuit_changed", "collect", "a target's circuit breaker opened or closed",
                       "target, track, url, from, to, why")
TARGET_TOGGLED = _code("target.toggled", "action", "an operator enabled or disabled a target's collection",
                       "target, enabled, actor")
TOKEN_EVENT = _code("target.token", "collect", "a token endpoint's token was refreshed, or could not be (source auth:<name>)",
                    "targets, lifetime_s, refresh_before_s (when refresh_before does not fit the tokens)")

# -- processes -------------------------------------------------------------------------------------
PROCESS_FOLLOWED = _code("process.followed", "monitor", "a process rule found its process", "pid")
PROCESS_RESTARTED = _code("process.restarted", "monitor", "a followed process was replaced", "pid, restarts")
PROCESS_GONE = _code("process.gone", "monitor", "a followed process exited", "pid, why")
PROCESS_MISSING = _code("process.missing", "monitor", "no process matches a rule", "why")

# -- watched logs and directories ----------------------------------------------------------------
LOG_STATUS = _code("log.status", "watch", "a tailed log's state changed (waiting, error, tailing)", "file, status")
LOG_NOTE = _code("log.note", "watch", "a tailed log rotated, was truncated or replaced", "file")
LOG_UNPARSED = _code("log.unparsed", "watch", "a log line does not parse in the configured format", "file, sample")
LOG_MATCHED = _code("log.matched", "watch", "a log line matched the error pattern", "file, line")
LOG_HELD_BACK = _code("log.held_back", "watch", "more log events than the rate limit allows", "file, held_back")
DIR_WAITING = _code("dir.waiting", "watch", "a watched directory is not there yet", "dir")
DIR_WATCHING = _code("dir.watching", "watch", "a directory is being watched", "dir")
DIR_POLLING = _code("dir.polling", "watch", "change notification failed: only the rescan finds files", "dir")
DIR_FILE_FAILED = _code("dir.file_failed", "watch", "a watched file failed to process", "path, processor, size, attempts")
DIR_FILE_VANISHED = _code("dir.file_vanished", "watch", "a file was deleted before it could be read", "path")
DIR_HELD_BACK = _code("dir.held_back", "watch", "more file failures than the rate limit allows", "held_back")

# -- backups ---------------------------------------------------------------------------------------
BACKUP_DONE = _code("backup.done", "backup", "a backup was written and verified",
                    "scheduled, path, bytes, db_bytes, saved, deleted")
BACKUP_FAILED = _code("backup.failed", "backup", "a backup failed", "scheduled, error")
BACKUP_DIR_PROBLEM = _code("backup.dir_problem", "backup", "the backup directory cannot be used", "error")
BACKUP_PARTIALS_REMOVED = _code("backup.partials_removed", "backup", "an interrupted backup's files were removed",
                                "removed")

# -- rollouts: every transition of the state machine has its own code -----------------------------
_ROLL = "rollout_id, from, to, stage (1-based), weight, actor, cause, actuation"
ROLLOUT_STARTED = _code("rollout.started", "rollout", "a rollout started at its first stage", _ROLL)
ROLLOUT_ABORTED = _code("rollout.aborted", "rollout", "a start that could not begin (a gate, the actuator)", _ROLL)
ROLLOUT_STAGE_ENTERED = _code("rollout.stage_entered", "rollout", "promoted to the next stage (engine or operator)",
                              _ROLL)
ROLLOUT_PROMOTING = _code("rollout.promoting", "rollout", "promotion to 100% began", _ROLL)
ROLLOUT_PROMOTED = _code("rollout.promoted", "rollout", "the canary serves 100%", _ROLL)
ROLLOUT_PAUSED = _code("rollout.paused", "rollout",
                       "the rollout is held (cause: guard, operator, engine_stopping)", _ROLL)
ROLLOUT_FROZEN = _code("rollout.frozen", "rollout", "frozen: no automatic decision until an operator acts", _ROLL)
ROLLOUT_RESUMED = _code("rollout.resumed", "rollout", "back to the stage's hold", _ROLL)
ROLLOUT_ROLLING_BACK = _code("rollout.rolling_back", "rollout", "the rollback began", _ROLL)
ROLLOUT_ROLLED_BACK = _code("rollout.rolled_back", "rollout", "the canary serves 0%", _ROLL)
ROLLOUT_NOTED = _code("rollout.noted", "rollout",
                      "same state, new reason (cause: rollback_failed, actuation_cut_off, retrying)", _ROLL)
ROLLOUT_RECOVERED = _code("rollout.recovered", "rollout", "the last rollout was taken up after a restart", _ROLL)
ROLLOUT_PROMOTION_HELD = _code("rollout.promotion_held", "rollout", "the hold passed but a gate holds the promotion",
                               "rollout_id, why")
ROLLOUT_FROZEN_FAILING = _code("rollout.frozen_failing", "rollout", "a frozen rollout's canary fails its checks",
                               "rollout_id, evidence")
ROLLOUT_REAPPLIED = _code("rollout.reapplied", "rollout", "the weight was re-applied after a restart",
                          "rollout_id, actuation")
ROLLOUT_REAPPLY_FAILED = _code("rollout.reapply_failed", "rollout", "the weight could not be re-applied", "rollout_id")
ROLLOUT_ACTUATION_CUT_OFF = _code("rollout.actuation_cut_off", "rollout", "an actuation was cut off by a stop")
ROLLOUT_HISTORY_UNREAD = _code("rollout.history_unread", "rollout", "the last rollout could not be read at start",
                               "error")
ROLLOUT_UNKNOWN_STATUS = _code("rollout.unknown_status", "rollout", "the last rollout's status is unknown; ignored",
                               "rollout_id, status")

# -- older histories -------------------------------------------------------------------------------
LEGACY = _code("legacy.unclassified", "engine",
               "an event written before codes existed that the migration could not classify; its message is all")

# The state machine's transitions (engine/canary/statemachine.py sets one on each Transition).
ROLLOUT_TRANSITION_CODES = (ROLLOUT_STARTED, ROLLOUT_ABORTED, ROLLOUT_STAGE_ENTERED, ROLLOUT_PROMOTING,
                            ROLLOUT_PROMOTED, ROLLOUT_PAUSED, ROLLOUT_FROZEN, ROLLOUT_RESUMED, ROLLOUT_ROLLING_BACK,
                            ROLLOUT_ROLLED_BACK, ROLLOUT_NOTED, ROLLOUT_RECOVERED)
ROLLOUT_TRANSITIONS = frozenset(c.code for c in ROLLOUT_TRANSITION_CODES)


def markdown() -> str:
    """The table of codes in docs/schema.md."""
    lines = ["| code | kind | means | data |", "|---|---|---|---|"]
    lines += [f"| `{c.code}` | {c.kind} | {c.means} | {c.data} |" for c in CATALOGUE.values()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
