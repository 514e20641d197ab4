"""Field paths into a JSON document: `data.requests.total`, `items[0].value`, `components.db.status`.

The one reader of such paths, for collect's `fields:`, health checks' conditions and components,
and JSON log fields. Parsed when the config is loaded, so a typo is a config error with a line
number, not a runtime surprise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
PathStep = str | int


def parse_path(path: str) -> tuple[PathStep, ...]:
    """"a.b[0].c" -> ("a", "b", 0, "c"). ValueError naming the character where it goes wrong."""
    steps: list[PathStep] = []
    position = 0
    while position < len(path):
        dotted = steps and path[position] == "."
        if dotted:
            position += 1
        match = _STEP.match(path, position)
        if not match or (dotted and match.group(1) is None) or (steps and not dotted and match.group(2) is None):
            raise ValueError(f"cannot read the path {path!r} at character {position + 1}")
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    if not steps:
        raise ValueError("the path is empty")
    return tuple(steps)


def follow(document: Any, steps: tuple[PathStep, ...]) -> tuple[bool, Any, str]:
    """(found, value, where it stopped) for a path through dicts and lists."""
    node = document
    walked = ""
    for step in steps:
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return False, None, walked or "the document"
            walked += f"[{step}]"
        else:
            if not isinstance(node, dict) or step not in node:
                return False, None, walked or "the document"
            walked += f".{step}" if walked else step
        node = node[step]
    return True, node, walked


def getter(path: str) -> Callable[[dict[str, Any]], Any]:
    """A reader of one path for a hot loop (a log line's fields): the value, or None when any step
    is missing. A plain key is one dict lookup."""
    steps = parse_path(path)
    if len(steps) == 1 and isinstance(steps[0], str):
        key = steps[0]
        return lambda d: d.get(key)
    return lambda d: follow(d, steps)[1]
