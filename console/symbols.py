"""Words and symbols that carry state beside its colour, so nothing is told by colour alone
(colour-blind operators, `--color-system mono`, a terminal that strips colour over a jump host).

One place for them: panels, summaries, the header and toasts take their symbols from here. Every
symbol is one cell wide in common terminal fonts (no emoji: they are two cells, or one, by font).
"""

from __future__ import annotations

SEVERITY_SYMBOLS = {"critical": "✖", "warning": "▲", "info": "·"}

OK_SYMBOL, WARN_SYMBOL, BAD_SYMBOL, UNKNOWN_SYMBOL, OFF_SYMBOL = "✔", "▲", "✖", "?", "○"

# A state word (upper case, as the panels show it) -> its symbol.
STATUS_SYMBOLS = {
    **dict.fromkeys(("OK", "PASS", "RUNNING", "PROMOTED", "PROMOTING", "RESOLVED", "UP"), OK_SYMBOL),
    **dict.fromkeys(("WARN", "PENDING", "RETRYING", "RESTARTING", "WAITING", "PAUSED", "FROZEN",
                     "WAITING-FOR-PROMOTION", "INCONCLUSIVE", "NO DATA", "CANNOT MEASURE", "READ-ONLY"), WARN_SYMBOL),
    **dict.fromkeys(("FAIL", "FIRING", "OPEN", "AUTH FAILED", "CRASHED", "FAILED", "BREACH", "DOWN",
                     "ROLLING-BACK", "ROLLED-BACK", "ABORTED", "OVER LIMIT", "STOPPED"), BAD_SYMBOL),
    **dict.fromkeys(("UNKNOWN",), UNKNOWN_SYMBOL),
    **dict.fromkeys(("DISABLED", "IDLE", "MUTED"), OFF_SYMBOL),
}

# Textual's toast severities -> ours.
TOAST_SEVERITIES = {"error": "critical", "warning": "warning", "information": "info"}


def severity_label(severity: str) -> str:
    """"✖ critical", "▲ warning", "· info": the word, with a symbol readable without colour."""
    symbol = SEVERITY_SYMBOLS.get(severity)
    return f"{symbol} {severity}" if symbol else severity


def status_symbol(word: str) -> str:
    """The symbol of a state word ("" for a word without one)."""
    return STATUS_SYMBOLS.get(word.upper(), "")


def status_label(word: str) -> str:
    """"✔ OK", "▲ WARN", "✖ FIRING", "? UNKNOWN": the word, with its symbol in front."""
    symbol = status_symbol(word)
    return f"{symbol} {word}" if symbol else word


def toast_label(severity: str, title: str) -> str:
    """A toast's title with its severity readable without colour: "✖ rollout.rollback", "▲ warning"."""
    ours = TOAST_SEVERITIES.get(severity, severity)
    symbol = SEVERITY_SYMBOLS.get(ours, "")
    if not title and ours == "info":
        return ""  # nothing to tell: an information toast reads as its text
    text = title or ours
    return f"{symbol} {text}" if symbol else text
