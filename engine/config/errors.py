"""ConfigError and the wording of config problems.

Every problem is one line an operator can act on, `FILE:LINE: key.path[idx].sub: message`. This
module turns pydantic's error dicts into the `message` part; the loader (loader.py) works out
FILE, LINE and the key path.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class ConfigError(Exception):
    """A config that cannot be used. str(err) is the full operator-facing message, one problem a
    line, each like 'config.yaml:14: canary.stages[2].weight: must be 0..100, got 150'."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


def format_path(path: Iterable[Any]) -> str:
    """("canary", "stages", 2, "weight") -> "canary.stages[2].weight"."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            key = str(part)
            if not key or not key.isprintable() or any(c.isspace() for c in key):
                key = repr(key)  # a key like "\r" or "my key" must not break or blur the problem line
            out += f".{key}" if out else key
    return out


def describe_value(value: Any) -> str:
    """How a bad input is shown after "got": strings quoted, containers named, not dumped."""
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"  # as it was written in YAML, not Python's True
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return repr(value)


def unknown_key(key: Any, allowed: Sequence[str] | None) -> str:
    """"unknown key 'refrsh' (did you mean 'refresh'?)", or the allowed keys when nothing is close."""
    text = f"unknown key {str(key)!r}"
    if not allowed:
        return text
    close = difflib.get_close_matches(str(key), list(allowed), n=1, cutoff=0.6)
    if close:
        return f"{text} (did you mean {close[0]!r}?)"
    return f"{text} (allowed: {', '.join(allowed)})"


def _literal_choices(expected: str) -> str:
    """pydantic's "'auto', 'truecolor' or 'mono'" -> "auto, truecolor, mono"."""
    items = re.split(r", | or ", expected)
    return ", ".join(item.strip().strip("'") for item in items)


_EXPECTED = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
    "dict_type": "a mapping of keys",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "path_type": "a file path",
    "url_type": "a URL",
    "url_parsing": "a URL",
}

_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def describe_error(error: Mapping[str, Any], allowed_keys: Sequence[str] | None = None) -> str:
    """The message part for one pydantic error (from ValidationError.errors()).

    `allowed_keys` are the keys valid where an unknown key was found, for the suggestion."""
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    got = describe_value(error.get("input"))
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return unknown_key(error["loc"][-1], allowed_keys)
    if kind in ("value_error", "assertion_error"):
        # Our validators already say "must be 0..100, got 150"; drop pydantic's prefix.
        return re.sub(r"^(Value error|Assertion failed), ", "", error["msg"])
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {got}"
    if kind in ("literal_error", "enum"):
        return f"must be one of {_literal_choices(ctx.get('expected', ''))}, got {got}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"must be {words} {ctx.get(key)}, got {got}"
    if kind in ("string_too_short", "too_short"):
        minimum = ctx.get("min_length", 1)
        noun = "character" if kind == "string_too_short" else "item"
        return "must not be empty" if minimum == 1 else f"must have at least {minimum} {noun}s, got {got}"
    if kind in ("string_too_long", "too_long"):
        noun = "characters" if kind == "string_too_long" else "items"
        return f"must have at most {ctx.get('max_length')} {noun}"
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')}, got {got}"
    if kind == "union_tag_invalid":  # the loader points the key path at the tag key
        return f"must be one of {_literal_choices(ctx.get('expected_tags', ''))}, got {ctx.get('tag')!r}"
    if kind == "union_tag_not_found":
        return "required"
    # Anything else: pydantic's own sentence, lower-cased to match ours, with the input.
    msg: str = error["msg"]
    return f"{msg[:1].lower()}{msg[1:]}, got {got}"
