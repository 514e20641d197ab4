"""Words and symbols that carry state beside its colour, so nothing is told by colour alone
(colour-blind operators, `--color-system mono`, a terminal that strips colour over a jump host)."""

from __future__ import annotations

SEVERITY_SYMBOLS = {"critical": "✖", "warning": "▲", "info": "·"}


def severity_label(severity: str) -> str:
    """"✖ critical", "▲ warning", "· info": the word, with a symbol readable without colour."""
    symbol = SEVERITY_SYMBOLS.get(severity)
    return f"{symbol} {severity}" if symbol else severity
