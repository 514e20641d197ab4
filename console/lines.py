"""Styled lines, the view model every panel is made of, with no Textual in it: a `View` is a
tuple of lines, each a tuple of (text, style) spans. Shared by the panels (console/panels/) and by
text that is printed, not drawn (`opsconsole rollout status`), which must not import Textual."""

from __future__ import annotations

import textwrap
from typing import TypeAlias

Span: TypeAlias = tuple[str, str]  # (text, style); style "" means the panel's default
Line: TypeAlias = tuple[Span, ...]
View: TypeAlias = tuple[Line, ...]

MUTED = "$text-muted"
SPARK_STYLE = "$accent"


def line(*parts: str | Span) -> Line:
    """Build a line from plain strings and (text, style) spans."""
    return tuple(p if isinstance(p, tuple) else (p, "") for p in parts)


def sentence(text: str, width: int) -> View:
    """A panel that has nothing to show says why, in muted text wrapped to the panel's width."""
    return tuple(((part, MUTED),) for part in textwrap.wrap(text, max(10, width)))
