"""A small terminal screen for tests: what a terminal shows after a stream of Textual's output.

Cursor positioning, SGR (16/256/truecolor, attributes on and off), CR/LF and wide characters; DEC
private modes are ignored. Written independently of console/screendiff.py, which it checks.
"""

from __future__ import annotations

import re

from rich.cells import cell_len

TOKEN = re.compile(r"\x1b\[(\d*);(\d*)H|\x1b\[([0-9;]*)m|\x1b\[\?[0-9;$]*[hlp]|\x1b\[[<>]?\d*u|(\r)|(\n)|([^\x1b\r\n])")
OFF = {22: {1, 2}, 23: {3}, 24: {4}, 25: {5}, 27: {7}, 28: {8}, 29: {9}, 55: {53}}


class TermScreen:
    def __init__(self, cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        blank = (" ", ("", "", frozenset()))
        self.cells = [[blank] * cols for _ in range(rows)]
        self.x = self.y = 0
        self.fg, self.bg, self.attrs = "", "", set()

    def feed(self, data: str) -> None:
        for m in TOKEN.finditer(data):
            row, col, sgr, cr, lf, char = m.groups()
            if row is not None:
                self.y, self.x = int(row or 1) - 1, int(col or 1) - 1
            elif sgr is not None:
                self._sgr(sgr)
            elif cr:
                self.x = 0
            elif lf:
                self.y += 1
            elif char is not None:
                width = cell_len(char)
                if width == 0:
                    continue
                self.cells[self.y][self.x] = (char, (self.fg, self.bg, frozenset(self.attrs)))
                if width == 2:
                    self.cells[self.y][self.x + 1] = ("", (self.fg, self.bg, frozenset(self.attrs)))
                self.x += width

    def _sgr(self, params: str) -> None:
        codes = [int(c) if c else 0 for c in params.split(";")] if params else [0]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c in (38, 48, 58):
                n = 5 if codes[i + 1] == 2 else 3
                value = ";".join(map(str, codes[i:i + n]))
                if c == 38:
                    self.fg = value
                elif c == 48:
                    self.bg = value
                i += n
                continue
            if c == 0:
                self.fg, self.bg, self.attrs = "", "", set()
            elif c in OFF:
                self.attrs -= OFF[c]
            elif c == 39:
                self.fg = ""
            elif c == 49:
                self.bg = ""
            elif 30 <= c <= 37 or 90 <= c <= 97:
                self.fg = str(c)
            elif 40 <= c <= 47 or 100 <= c <= 107:
                self.bg = str(c)
            else:
                self.attrs.add(c)
            i += 1

    def text(self) -> list[str]:
        return ["".join(ch for ch, _ in row) for row in self.cells]
