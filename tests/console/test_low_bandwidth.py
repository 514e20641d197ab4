"""Only changed cells reach the terminal (console/screendiff.py) and the screen they make is the
screen Textual meant; the low-bandwidth mode keeps every panel's numbers live."""

from __future__ import annotations

import os
import random
from pathlib import Path

from console_fakes import T0, series, snap

from console.render import sparkline
from console.screendiff import ScreenDiff
from tests.ptyrun import PtyProcess, opsconsole_argv
from tests.termscreen import TermScreen

COLS, ROWS = 40, 8
STYLES = ("38;2;216;222;228;48;2;16;20;24", "1;38;2;159;161;162;48;2;16;20;24", "7;38;2;30;62;94;48;2;0;0;2",
          "2;33", "1;2;4", "38;5;208", "48;5;17;3", "")
CHARS = "abc 0123456789.%/s—▁▂▃▅▇█⠤│╭─é界"  # 界: a wide character


def textual_frame(rng: random.Random, base: list[list[tuple[str, str]]]) -> str:
    """A frame as Textual writes one: sync start, whole widget lines (a cursor move, segments each
    behind its own SGR and a reset, CR LF), the cursor parked, sync end. `base` is changed in place
    a little at a time, as a live screen changes."""
    for _ in range(rng.randint(0, 6)):
        y, x = rng.randrange(ROWS), rng.randrange(COLS)
        base[y][x] = (rng.choice(CHARS), rng.choice(STYLES))
    rows = rng.sample(range(ROWS), rng.randint(1, ROWS))
    return paint(base, rows, lambda: rng.choice((0, 10)), lambda: rng.random() < 0.5)


def paint(base: list[list[tuple[str, str]]], rows: list[int], start=lambda: 0, crlf=lambda: False) -> str:
    out = ["\x1b[?2026h"]
    for y in rows:
        x = start()
        out.append(f"\x1b[{y + 1};{x + 1}H")
        while x < COLS:
            char, style = base[y][x]
            width = 2 if char == "界" else 1
            if x + width > COLS:
                char, width = " ", 1
            out.append(f"\x1b[{style}m{char}\x1b[0m" if style else char)
            x += width
            if width == 2 and x < COLS:
                base[y][x] = (" ", style)  # the wide character's right half
        if y < ROWS - 1 and crlf():
            out.append("\r\n")
    out.append("\x1b[1;1H\x1b[?2026l")
    return "".join(out)


def test_only_changed_cells_are_sent_and_the_screen_is_the_same():
    rng = random.Random(20)
    base = [[(" ", "")] * COLS for _ in range(ROWS)]
    diff = ScreenDiff(lambda: (COLS, ROWS))
    whole, changed = TermScreen(COLS, ROWS), TermScreen(COLS, ROWS)
    sent_whole = sent_changed = 0
    diff.feed("\x1b[?1049h\x1b[?25l")
    for _ in range(400):
        frame = textual_frame(rng, base)
        out = diff.feed(frame)
        whole.feed(frame)
        changed.feed(out)
        assert changed.cells == whole.cells
        sent_whole += len(frame.encode())
        sent_changed += len(out.encode())
    assert sent_changed < sent_whole / 5
    # The whole screen painted, then again unchanged: nothing but the sync markers.
    diff.feed(paint(base, list(range(ROWS))))
    assert diff.feed(paint(base, list(range(ROWS)))) == "\x1b[?2026h\x1b[?2026l"


def test_an_equal_frame_sends_nothing_and_a_changed_digit_one_cell():
    diff = ScreenDiff(lambda: (COLS, ROWS))
    diff.feed("\x1b[?25l")
    frame = "\x1b[3;2H\x1b[38;2;216;222;228;48;2;16;20;24mreq      9.01/s\x1b[0m\x1b[38;2;108;182;255mx\x1b[0m\x1b[1;1H"
    diff.feed(frame)
    assert diff.feed(frame) == ""
    # One cursor move and the cell; its colours, since the cell sent last (the x) had others.
    assert diff.feed(frame.replace("9.01", "9.05")) == "\x1b[3;14H\x1b[38;2;216;222;228;48;2;16;20;24m5"
    assert diff.feed(frame.replace("9.01", "9.07")) == "\x1b[3;14H7"


def test_what_it_does_not_understand_goes_through_and_the_next_frame_is_whole():
    diff = ScreenDiff(lambda: (COLS, ROWS))
    frame = "\x1b[1;1H\x1b[1mhello\x1b[0m"
    diff.feed(frame)
    # A clear: not modelled, so sent as it is, in the style the stream had there (bold was off).
    assert diff.feed("\x1b[2J") == "\x1b[22m\x1b[2J"
    assert "hello" in diff.feed(frame)  # sent again: the screen was cleared
    diff.feed(frame)
    assert diff.feed("\x1b[?1049h" + frame).endswith("hello")  # a new alternate screen (back from ctrl+z)


def test_a_new_terminal_size_sends_the_next_frame_whole():
    size = [COLS, ROWS]
    diff = ScreenDiff(lambda: (size[0], size[1]))
    frame = "\x1b[1;1Hhello"
    diff.feed(frame)
    assert diff.feed(frame) == ""
    size[0] = 50
    assert "hello" in diff.feed(frame)


async def test_low_bandwidth_header_says_so_clock_in_minutes_sparklines_every_5s(make_app, source):
    def at(t: float, last: float) -> None:
        source.current = snap(taken_at=t, configured=frozenset({"watch"}), series=(
            series("watch:inbox", "files_per_s", [0.0, 1.0, 2.0, last], "/s"),))

    at(T0 + 100, 4.0)
    app = make_app(low_bandwidth=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "LOW-BW" in app.header.plain
        clock = app.header.plain.rsplit(" ", 1)[-1]
        assert len(clock) == 5 and clock[2] == ":", clock  # HH:MM
        panel = app.query_one("#throughput")
        first = panel.body.lines[0]
        assert "4/s" in "".join(t for t, _ in first) and first[-1] == (" ▁▃▅█", "")  # no colour
        at(T0 + 101, 2.0)  # the value is live at once; the sparkline waits
        app.refresh_now()
        line = panel.body.lines[0]
        assert "2/s" in "".join(t for t, _ in line) and line[-1] == (" ▁▃▅█", "")
        at(T0 + 105, 2.0)  # 5 s on: the sparkline moves
        app.refresh_now()
        assert panel.body.lines[0][-1] == (" " + sparkline([0.0, 1.0, 2.0, 2.0], 4), "") == (" ▁▅██", "")


async def test_normal_mode_keeps_seconds_and_coloured_sparklines(make_app, source):
    source.current = snap(configured=frozenset({"watch"}),
                          series=(series("watch:inbox", "files_per_s", [0.0, 1.0, 2.0, 4.0], "/s"),))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert "LOW-BW" not in app.header.plain
        assert len(app.header.plain.rsplit(" ", 1)[-1]) == 8  # HH:MM:SS
        assert app.query_one("#throughput").body.lines[0][-1] == (" ▁▃▅█", "$accent")


def test_over_a_pty_the_panels_show_their_numbers_from_changed_cells_only(demo_config: Path):
    """The real console on a real terminal: the screen built from what it sent shows the mode,
    every panel and live numbers, and keeps showing them as they change."""
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
    proc = PtyProcess(opsconsole_argv("--config", str(demo_config), "--low-bandwidth"), cols=120, rows=40, env=env)
    try:
        proc.wait_for_text("Rollout", timeout=30)
        proc.read_for(6)
        screen = TermScreen(120, 40)
        screen.feed(proc.output.decode("utf-8", "replace"))
        rows = screen.text()
        assert "LOW-BW" in rows[0]
        for title in ("Throughput", "Memory", "Errors", "Gaps", "Health", "Rollout"):
            assert any(title in row for row in rows), title
        memory = "\n".join(row[40:80] for row in rows[2:19])
        assert "host mem" in memory and "%" in memory
        throughput = "\n".join(row[:40] for row in rows[2:19])
        assert "/s" in throughput
        clock = rows[0].split()[-1]
        assert len(clock) == 5 and clock[2] == ":", rows[0]
        sent = len(proc.output)
        proc.read_for(3)
        assert len(proc.output) > sent  # still live
        screen.feed(proc.output[sent:].decode("utf-8", "replace"))
        assert rows[1] == screen.text()[1]  # the borders stay where they were
        assert "/s" in "\n".join(row[:40] for row in screen.text()[2:19])
    finally:
        proc.kill()


def test_the_config_key_and_the_flag_are_documented():
    from engine.config.schema import UiConfig

    assert UiConfig().low_bandwidth is False
    assert UiConfig(low_bandwidth=True).low_bandwidth is True
