"""Send the terminal only the cells that changed, as curses and htop do.

Textual's compositor repaints whole widget lines: a rate that ticks from 9.01/s to 9.05/s resends
its panel's row from the left border to the right one, each span behind a full truecolor escape
(`ESC[38;2;216;222;228;48;2;16;20;24m`, ~35 bytes) and a reset. `ScreenDiff` sits between Textual
and the terminal (in the output thread, off the UI loop): it keeps the screen as the terminal
shows it, turns each frame into the cells it writes, and sends only the cells that differ, each
run behind one cursor move, with only the style attributes that change from the previous cell.

It understands exactly what Textual's frames are made of — cursor positioning (`ESC[y;xH`), SGR
(`ESC[...m`), text, CR/LF — and passes DEC private modes (`ESC[?...h/l`, sync output) through.
Anything else (a clear, an OSC, a query) is written unchanged and the model is dropped, so the
next frames are sent whole until they have painted every cell again: an unknown sequence can cost
bytes, never a wrong screen. The same happens when the terminal's size changes and when the
alternate screen is (re-)entered (`ESC[?1049h`: back from ctrl+z the terminal shows a blank screen).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from itertools import repeat
from typing import NamedTuple

from rich.cells import cached_cell_len

TOKEN = re.compile(
    r"\x1b\[(\d*);(\d*)H"  # 1, 2: cursor position
    r"|\x1b\[([0-9;:]*)m"  # 3: SGR
    r"|(\x1b\[\?[0-9;]*[hl])"  # 4: DEC private mode (sync output, cursor, mouse, alt screen)
    r"|(\x1b[^\n]?)"  # 5: any other escape: not understood
    r"|([\r\n])"  # 6
    r"|([^\x1b\r\n]+)"  # 7: text
)
ENTER_ALT_SCREEN = "\x1b[?1049h"
LEAVE_ALT_SCREEN = "\x1b[?1049l"
SHOW_CURSOR, HIDE_CURSOR = "\x1b[?25h", "\x1b[?25l"
MERGE_GAP = 4  # unchanged cells resent rather than a new cursor move (~8 bytes) between two runs

# SGR attributes and the code that turns each off (22 ends both bold and dim).
ATTR_OFF = {"1": "22", "2": "22", "3": "23", "4": "24", "5": "25", "7": "27", "8": "28", "9": "29",
            "53": "55"}
OFF_CODES = {"22": ("1", "2"), "23": ("3",), "24": ("4",), "25": ("5",), "27": ("7",), "28": ("8",),
             "29": ("9",), "55": ("53",)}


class Style(NamedTuple):
    """One cell's SGR state: foreground and background as their codes, the attributes that are on."""

    fg: str = ""
    bg: str = ""
    ul: str = ""  # underline colour (58;...)
    attrs: frozenset[str] = frozenset()


DEFAULT = Style()
Cell = tuple[str, Style]  # text ("" for the right half of a wide character), style
Parsed = tuple[list[tuple[str, bool]], dict[int, dict[int, Cell]], tuple[int, int] | None, Style]
WIDE_TAIL = ""


@lru_cache(maxsize=4096)  # frames repeat the same few sequences from the same few styles
def apply_sgr(style: Style, params: str) -> Style:
    """The style after `ESC[<params>m`, as a terminal reads it."""
    codes = params.replace(":", ";").split(";") if params else ["0"]
    fg, bg, ul, attrs = style.fg, style.bg, style.ul, set(style.attrs)
    i = 0
    while i < len(codes):
        code = codes[i] or "0"
        if code in ("38", "48", "58"):
            width = 5 if codes[i + 1:i + 2] == ["2"] else 3
            value = ";".join(codes[i:i + width])
            i += width
            if code == "38":
                fg = value
            elif code == "48":
                bg = value
            else:
                ul = value
            continue
        if code == "0":
            fg, bg, ul, attrs = "", "", "", set()
        elif code in OFF_CODES:
            attrs.difference_update(OFF_CODES[code])
        elif code == "39":
            fg = ""
        elif code == "49":
            bg = ""
        elif code == "59":
            ul = ""
        elif code.isdigit() and (30 <= int(code) <= 37 or 90 <= int(code) <= 97):
            fg = code
        elif code.isdigit() and (40 <= int(code) <= 47 or 100 <= int(code) <= 107):
            bg = code
        else:
            attrs.add(code)
        i += 1
    return Style(fg, bg, ul, frozenset(attrs))


def sgr_between(old: Style | None, new: Style) -> str:
    """The shortest escape we know that takes the terminal from `old` (None: unknown) to `new`."""
    if old == new:
        return ""
    if old is None or any(a not in ATTR_OFF for a in old.attrs - new.attrs):
        codes = ["0", *sorted(new.attrs), *(c for c in (new.fg, new.bg, new.ul) if c)]
        return f"\x1b[{';'.join(codes)}m"
    codes = sorted({ATTR_OFF[a] for a in old.attrs - new.attrs})
    # Turning bold off also ends dim (and the reverse): put back what must stay on.
    codes += sorted(new.attrs - old.attrs) + sorted(a for a in new.attrs & old.attrs if a in ("1", "2")
                                                    and ATTR_OFF[a] in codes)
    if new.fg != old.fg:
        codes.append(new.fg or "39")
    if new.bg != old.bg:
        codes.append(new.bg or "49")
    if new.ul != old.ul:
        codes.append(new.ul or "59")
    return f"\x1b[{';'.join(codes)}m"


class ScreenDiff:
    """A filter for the terminal's output: `feed(frame)` returns what to write instead."""

    def __init__(self, size: Callable[[], tuple[int, int]]) -> None:
        self._size = size  # (columns, rows) of the terminal now
        self._cols, self._rows = 0, 0
        self._screen: list[list[Cell | None]] = []
        # Where the terminal's cursor is (None: unknown) and its SGR state (None: whatever the
        # stream last left it in: at the start, and after a frame sent as it was), and the same
        # as the stream we are given means them: it writes relative to its own idea of both. The
        # styles need not agree between frames (every cell we send sets its own).
        self._cursor: tuple[int, int] | None = None
        self._style: Style | None = None
        self._src_cursor: tuple[int, int] | None = None
        self._src_style = DEFAULT
        self._cursor_shown = True  # until the stream hides it: then where it rests does not show
        self.bytes_in = 0
        self.bytes_out = 0

    def forget(self) -> None:
        """The terminal's screen is no longer known: the next frames are sent whole."""
        self._cols, self._rows = self._size()
        self._screen = [[None] * self._cols for _ in range(self._rows)]
        self._cursor = None
        self._src_cursor = None

    def feed(self, data: str) -> str:
        self.bytes_in += len(data)
        out = self._feed(data)
        self.bytes_out += len(out)
        return out

    def _feed(self, data: str) -> str:
        if self._size() != (self._cols, self._rows):
            self.forget()
        parsed = self._parse(data)
        if parsed is None:  # something we do not model: send it as it is, know nothing after it
            style = "" if self._style is None else sgr_between(self._style, self._src_style)
            out = self._sync_cursor() + style + data
            self.forget()
            self._style, self._src_style = None, DEFAULT  # Textual ends its segments with a reset
            return out
        modes, writes, cursor, style = parsed
        # Modes before the frame's first text go before its cells, the others after them: the
        # sync-output pair keeps bracketing what it bracketed.
        out = [self._mode(mode) for mode, after_text in modes if not after_text]
        out.append(self._emit(writes))
        self._src_cursor, self._src_style = cursor, style
        if self._cursor_shown:  # a visible cursor (an input has focus) sits where the stream put it
            out.append(self._sync_cursor())
        out += [self._mode(mode) for mode, after_text in modes if after_text]
        return "".join(out)

    def _mode(self, mode: str) -> str:
        if mode == ENTER_ALT_SCREEN:
            self.forget()  # a fresh screen: every cell after it is sent
        elif mode == LEAVE_ALT_SCREEN:  # back to the shell's screen, in its colours
            mode = sgr_between(self._style, DEFAULT) + mode
            self._style = DEFAULT
        self._cursor_shown = {SHOW_CURSOR: True, HIDE_CURSOR: False}.get(mode, self._cursor_shown)
        return mode

    def _sync_cursor(self) -> str:
        """Move the terminal's cursor to where the stream believes it is (hidden, it may lag:
        each run of cells starts with its own move anyway)."""
        if self._src_cursor is None or self._src_cursor == self._cursor:
            return ""
        self._cursor = self._src_cursor
        return f"\x1b[{self._cursor[1] + 1};{self._cursor[0] + 1}H"

    def _parse(self, data: str) -> Parsed | None:
        """(mode sequences with whether text came before each, {row: {column: cell}} written, the
        stream's cursor and style after it), or None for a frame we do not model."""
        modes: list[tuple[str, bool]] = []
        seen_text = False
        writes: dict[int, dict[int, Cell]] = {}
        x, y = self._src_cursor if self._src_cursor is not None else (-1, -1)
        style = self._src_style
        for match in TOKEN.finditer(data):
            row, col, sgr, mode, other, crlf, text = match.groups()
            if text is not None:
                seen_text = True
                if y < 0 or x < 0:
                    return None  # text at an unknown position
                if y >= self._rows:
                    return None  # a scroll: not Textual's way
                line = writes.setdefault(y, {})
                if text.isascii() and text.isprintable():  # most of a frame: one cell per character
                    if x + len(text) > self._cols:
                        return None  # a wrap: not Textual's way
                    line.update(zip(range(x, x + len(text)), zip(text, repeat(style)), strict=False))
                    x += len(text)
                    continue
                for char in text:
                    width = cached_cell_len(char)
                    if width == 0:  # a combining mark joins the cell before it
                        if x - 1 in line:
                            prev = line[x - 1]
                            line[x - 1] = (prev[0] + char, prev[1])
                            continue
                        return None
                    if x + width > self._cols:
                        return None  # a wrap: not Textual's way
                    line[x] = (char, style)
                    if width == 2:
                        line[x + 1] = (WIDE_TAIL, style)
                    x += width
            elif sgr is not None:
                style = apply_sgr(style, sgr)
            elif row is not None:
                y, x = int(row or 1) - 1, int(col or 1) - 1
            elif mode is not None:
                modes.append((mode, seen_text))
            elif crlf == "\r":
                x = 0 if y >= 0 else -1
            elif crlf == "\n":
                if y < 0 or y + 1 >= self._rows:
                    return None  # a scroll
                y += 1
            else:
                return None
        return modes, writes, ((x, y) if x >= 0 and y >= 0 else None), style

    def _emit(self, writes: dict[int, dict[int, Cell]]) -> str:
        out: list[str] = []
        for y in sorted(writes):
            screen_row = self._screen[y]
            changed = sorted(x for x, cell in writes[y].items() if screen_row[x] != cell)
            for x in list(changed):  # a wide character is written whole: both its halves
                cell = writes[y][x]
                if cell[0] == WIDE_TAIL and x > 0:
                    changed.append(x - 1)
                elif x + 1 < self._cols and screen_row[x + 1] is not None and screen_row[x + 1][0] == WIDE_TAIL:
                    changed.append(x + 1)
            for start, end in _runs(sorted(set(changed))):
                out.append(self._run(y, start, end, writes[y]))
        return "".join(out)

    def _run(self, y: int, start: int, end: int, line: dict[int, Cell]) -> str:
        """Cells start..end (inclusive) of row y: a cursor move, then each cell's text."""
        screen_row = self._screen[y]
        out = [] if self._cursor == (start, y) else [f"\x1b[{y + 1};{start + 1}H"]
        x = start
        while x <= end:
            cell = line.get(x, screen_row[x])
            if cell is None:  # a cell nobody ever painted, inside a merged run: leave it alone
                out.append(f"\x1b[{y + 1};{x + 2}H")
                x += 1
                continue
            text, style = cell
            screen_row[x] = cell
            if text != WIDE_TAIL:
                out.append(sgr_between(self._style, style))
                self._style = style
                out.append(text)
            x += 1
        self._cursor = (end + 1, y) if end + 1 < self._cols else None  # past the edge: pending wrap
        return "".join(out)


def _runs(columns: list[int]) -> list[tuple[int, int]]:
    """Changed columns as (first, last) runs, joining runs less than MERGE_GAP apart."""
    runs: list[tuple[int, int]] = []
    for x in columns:
        if runs and x - runs[-1][1] <= MERGE_GAP:
            runs[-1] = (runs[-1][0], x)
        else:
            runs.append((x, x))
    return runs
