"""Pure helpers: sparkline text, value formatting, the changed-cells diff behind cheap repaints."""

from __future__ import annotations

import random

from rich.cells import cell_len
from textual.geometry import Region

from console.panels.base import changed_cells, line
from console.render import age, format_value, sparkline


def test_sparkline_is_plain_blocks_scaled_from_zero():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, 5], 10) == "███"  # a steady non-zero rate is not drawn as zero
    assert sparkline([0, 0], 10) == "▁▁"
    assert sparkline(list(range(100)), 5) == sparkline([95, 96, 97, 98, 99], 5)  # newest points win
    assert sparkline([], 5) == "" and sparkline([1.0], 0) == ""
    assert sparkline([50.0], 3, lo=0, hi=100) == "▅"


def test_values_are_formatted_by_unit_and_absent_is_a_dash():
    assert format_value("error_rate", 0.004) == "0.4%"
    assert format_value("mem_pct", 42.25, "%") == "42.2%"
    assert format_value("rss_bytes", 52_400_000, "B") == "52.4MB"
    assert format_value("files_per_s", 3.0, "/s") == "3/s"
    assert format_value("load1", 0.5) == "0.50"
    assert format_value("mem_pct", None, "%") == "—"
    assert format_value("files_total", 12345.0) == "12.3k"


def test_age_is_coarse():
    ages = (0, 9.9, 10, 27, 59.9, 61, 3599, 3600, 90000, -3)
    assert [age(s) for s in ages] == ["0s", "9s", "10s", "20s", "50s", "1m", "59m", "1h", "1d", "0s"]


def test_changed_cells_covers_only_what_differs():
    old = line("host cpu ", ("21.5%", ""))
    assert changed_cells(old, line("host cpu ", ("21.7%", "")), 3) == Region(12, 3, 1, 1)
    # a style change with the same text is a change too
    assert changed_cells(line(("OK", "")), line(("OK", "$error")), 0) == Region(0, 0, 2, 1)
    # a shorter line must clear the old tail
    assert changed_cells(line("abcdef"), line("abc"), 1) == Region(3, 1, 3, 1)
    # a value that grows by a character shifts the rest of the line: repaint all of it
    assert changed_cells(line("dir 9s writable"), line("dir 10s writable"), 2) == Region(4, 2, 12, 1)
    # wide characters are measured in cells
    assert changed_cells(line("日本 x"), line("日本 y"), 0) == Region(5, 0, 1, 1)


def _cells(view_line):
    """The line cell by cell: (character, style), a wide character followed by its second cell."""
    out = []
    for text, style in view_line:
        for char in text:
            out += [(char, style)] + [None] * (cell_len(char) - 1)
    return out


def test_changed_cells_never_misses_a_changed_cell_on_random_lines():
    """Seeded random pairs of lines (split into spans differently, styles and wide characters
    mixed): every cell that differs, or that one line has and the other not, is inside the region."""
    rng = random.Random(20)
    alphabet = "ab1 .%▁█日"
    styles = ("", "$error", "bold")

    def random_line(text):
        spans, at = [], 0
        while at < len(text):
            size = rng.randint(1, 4)
            spans.append((text[at:at + size], rng.choice(styles[:2]) if rng.random() < 0.3 else ""))
            at += size
        return tuple(spans)

    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        other = list(text)
        for _ in range(rng.randint(0, 3)):  # a few edits: replace, insert, delete
            at = rng.randint(0, len(other))
            kind = rng.choice(("replace", "insert", "delete"))
            if kind == "insert" or not other:
                other.insert(at, rng.choice(alphabet))
            elif kind == "replace":
                other[min(at, len(other) - 1)] = rng.choice(alphabet)
            else:
                del other[min(at, len(other) - 1)]
        old, new = random_line(text), random_line("".join(other))
        region = changed_cells(old, new, 0)
        a, b = _cells(old), _cells(new)
        differing = [x for x in range(max(len(a), len(b)))
                     if (a[x] if x < len(a) else "gone") != (b[x] if x < len(b) else "gone")]
        assert all(region.x <= x < region.x + region.width for x in differing), (old, new, region, differing)
