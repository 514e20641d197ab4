"""Conditions on a JSON health document: `status == "healthy"`, `checks[0].latency_ms < 250`.

    <path> <op> <literal>
    path:    keys joined by dots, list items as [n]: components.database.status (engine/jsonpath.py)
    op:      == != > >= < <=   (ordering needs numbers on both sides)
    literal: "text" or 'text', a number, true, false, null

Parsed when the config is validated, so a typo is a config error with its file and line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from engine.alerts.ops import OPERATORS, ORDERING
from engine.jsonpath import follow, parse_path

_CONDITION = re.compile(r"^\s*(?P<path>[^\s=!<>]+)\s*(?P<op>==|!=|>=|<=|>|<)\s*(?P<literal>.+?)\s*$")


def _literal(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"{text!r} is not a value: quote text (\"healthy\"), or write a number, true, false or null") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Condition:
    text: str
    path: tuple[str | int, ...]
    op: str
    expected: Any

    @classmethod
    def parse(cls, text: str) -> Condition:
        match = _CONDITION.match(text)
        if not match:
            raise ValueError(f"cannot read the condition {text!r} (expected e.g. status == \"healthy\")")
        expected = _literal(match["literal"])
        if match["op"] in ORDERING and not _is_number(expected):
            raise ValueError(f"{match['op']} needs a number on the right, got {match['literal']} in {text!r}")
        return cls(text.strip(), parse_path(match["path"]), match["op"], expected)

    def check(self, document: Any) -> str | None:
        """None when the condition holds; otherwise why not, e.g. 'status == "healthy": got "degraded"'."""
        found, actual, _ = follow(document, self.path)
        if not found:
            return f"{self.text}: {'.'.join(map(str, self.path))} is missing"
        if self.op in ORDERING and not _is_number(actual):
            return f"{self.text}: got {json.dumps(actual)}, not a number"
        if OPERATORS[self.op](actual, self.expected):
            return None
        return f"{self.text}: got {json.dumps(actual)}"


def validate_condition(text: str) -> str:
    """For the config schema: the text, if it parses."""
    Condition.parse(text)
    return text


def validate_path(text: str) -> str:
    parse_path(text)
    return text
