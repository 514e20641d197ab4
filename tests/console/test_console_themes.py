"""Themes: theme files parse into Textual themes, `t` cycles them, unknown names fall back with a
notice, the 16-colour theme uses ANSI names only, and NO_COLOR turns colour off."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.filter import Monochrome

from console.themes import DEFAULT_THEME, PREFERRED_ORDER, ThemeFileError, load_themes, parse_theme
from themes import theme_files


def test_every_theme_file_parses_and_the_preferred_ones_exist():
    themes = {t.name: t for t in load_themes()}
    assert list(themes)[:len(PREFERRED_ORDER)] == list(PREFERRED_ORDER)
    for theme in themes.values():
        theme.to_color_system().generate()  # Textual accepts every colour in it
    assert themes["opsconsole-light"].dark is False
    assert themes["opsconsole-high-contrast"].text_alpha == 1.0


def test_the_16_colour_theme_uses_ansi_names_only():
    path = theme_files()["opsconsole-16"]
    theme = load_themes()[PREFERRED_ORDER.index("opsconsole-16")]
    assert theme.ansi is True
    for line in path.read_text().splitlines():
        if line.startswith("$") and line.split(":")[0] not in ("$dark", "$ansi"):
            assert line.split(":", 1)[1].strip().startswith("ansi_"), line


def test_a_bad_theme_file_names_file_and_line(tmp_path: Path):
    with pytest.raises(ThemeFileError, match=r"x\.tcss:3: expected `\$name: value;`"):
        parse_theme("/* ok */\n$primary: #fff;\nprimary #000\n", "x", str(tmp_path / "x.tcss"))
    with pytest.raises(ThemeFileError, match="needs at least"):
        parse_theme("$accent: #fff;", "y", "y.tcss")
    theme = parse_theme("$primary: #123456; \n$dark: false;\n$footer-key-foreground: #ff0000;", "z")
    assert (theme.primary, theme.dark, theme.variables) == ("#123456", False, {"footer-key-foreground": "#ff0000"})


async def test_t_cycles_the_themes(make_app):
    app = make_app()
    async with app.run_test() as pilot:
        assert app.theme == DEFAULT_THEME
        seen = [app.theme]
        for _ in range(len(PREFERRED_ORDER)):
            await pilot.press("t")
            seen.append(app.theme)
        assert seen == [*PREFERRED_ORDER, PREFERRED_ORDER[0]]


async def test_unknown_theme_falls_back_with_a_notice(make_app):
    app = make_app(theme="solarised-purple")
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME
        (_, severity, notice), *_ = app.notices
        assert severity == "warning"
        assert "'solarised-purple'" in notice and all(name in notice for name in PREFERRED_ORDER)


async def test_no_color_is_honoured(make_app, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.no_color
        assert any(isinstance(f, Monochrome) for f in app._filters)
        # What reaches the terminal after the filters: every colour a shade of grey.
        from rich.segment import Segment
        from textual.color import Color

        strip = app.screen._compositor.render_strips()[0]
        segments: list[Segment] = list(strip)
        for f in app._filters:
            segments = f.apply(segments, Color(0, 0, 0))
        colours = [c for s in segments if s.style for c in (s.style.color, s.style.bgcolor) if c]
        assert colours and all(len(set(c.get_truecolor())) == 1 for c in colours)


async def test_a_broken_theme_file_is_skipped_with_a_notice(make_app, tmp_path, monkeypatch):
    import shutil

    from console import app as app_module
    from console import themes as themes_module

    for path in theme_files().values():
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "mine.tcss").write_text("$primary: #000;\nnot a declaration\n")
    monkeypatch.setattr(app_module, "load_themes",
                        lambda problems=None: themes_module.load_themes(tmp_path, problems))
    app = make_app(theme="mine")
    async with app.run_test() as pilot:
        await pilot.pause()
        texts = [t for _, _, t in app.notices]
        assert any("theme file skipped" in t and "mine.tcss:2" in t for t in texts)
        assert app.theme == DEFAULT_THEME
