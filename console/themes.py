"""Themes: themes/<name>.tcss files (TCSS variable declarations) parsed into Textual `Theme`s.

Why files and not Python: an operator can copy one, change a colour and read the result, and the
format is the TCSS they already see in the app's stylesheet. The format is documented at the top
of every theme file.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from textual.theme import Theme

from themes import THEME_DIR, theme_files

DEFAULT_THEME = "opsconsole-dark"
# `t` cycles in this order; any further theme files follow, by name.
PREFERRED_ORDER = ("opsconsole-dark", "opsconsole-light", "opsconsole-high-contrast", "opsconsole-colorblind",
                   "opsconsole-16")

_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_DECLARATION = re.compile(r"^\$([a-z][a-z0-9-]*)\s*:\s*([^;]+?)\s*;$")
_COLOUR_FIELDS = {f.name for f in fields(Theme)} & {
    "primary", "secondary", "warning", "error", "success", "accent",
    "foreground", "background", "surface", "panel", "boost",
}
_FLAGS = {"dark", "ansi"}
_NUMBERS = {"luminosity-spread": "luminosity_spread", "text-alpha": "text_alpha"}


class ThemeFileError(ValueError):
    """A theme file that cannot be read; the message names the file and the line."""


def parse_theme(text: str, name: str, origin: str = "<theme>") -> Theme:
    """Parse `$name: value;` declarations into a Theme named `name`."""
    # Blank out comments but keep their newlines, so line numbers in errors stay right.
    text = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
    colours: dict[str, str] = {}
    options: dict[str, bool | float] = {}
    variables: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped:
            continue
        match = _DECLARATION.match(stripped)
        if match is None:
            raise ThemeFileError(f"{origin}:{number}: expected `$name: value;`, got {stripped!r}")
        key, value = match.groups()
        where = f"{origin}:{number}: ${key}"
        if key in _COLOUR_FIELDS:
            colours[key] = value
        elif key in _FLAGS:
            if value not in ("true", "false"):
                raise ThemeFileError(f"{where}: expected true or false, got {value!r}")
            options[key] = value == "true"
        elif key in _NUMBERS:
            try:
                options[_NUMBERS[key]] = float(value)
            except ValueError:
                raise ThemeFileError(f"{where}: expected a number, got {value!r}") from None
        else:
            variables[key] = value
    if "primary" not in colours:
        raise ThemeFileError(f"{origin}: a theme needs at least `$primary: <colour>;`")
    return Theme(name=name, **colours, **options, variables=variables)  # type: ignore[arg-type]


def load_theme_file(path: Path) -> Theme:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ThemeFileError(f"{path}: cannot read theme file: {exc.strerror}") from exc
    return parse_theme(text, path.stem, str(path))


def load_themes(directory: Path = THEME_DIR, problems: list[str] | None = None) -> list[Theme]:
    """Every theme file in `directory`, in cycling order.

    With `problems` given, a broken file is skipped and its error appended there (the app shows
    it and carries on with the others); without, the first error is raised.
    """
    files = theme_files(directory)
    names = [n for n in PREFERRED_ORDER if n in files] + [n for n in files if n not in PREFERRED_ORDER]
    themes = []
    for name in names:
        try:
            themes.append(load_theme_file(files[name]))
        except ThemeFileError as exc:
            if problems is None:
                raise
            problems.append(str(exc))
    return themes


def next_theme(current: str, names: list[str]) -> str:
    """The theme after `current` in `names`, wrapping; the first one if `current` is not there."""
    if current not in names:
        return names[0]
    return names[(names.index(current) + 1) % len(names)]
