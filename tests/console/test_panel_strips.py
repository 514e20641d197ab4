"""PanelBody builds each line's Strip from its spans (console/panels/base.py `_line_strip`) instead of
Visual.to_strips: the same cells, styles and selection offsets as Textual's own rendering, for
every theme variable the panels use, plain text, wide characters and lines cut at the width."""

from __future__ import annotations

from rich.style import Style as RichStyle
from textual.strip import Strip
from textual.visual import Visual

from console.lines import SPARK_STYLE
from console.panels.base import STATUS_STYLES, to_content

LINES = (
    (("plain text, no style", ""),),
    (("OK", "$success"), ("  api ", ""), ("12.5 req/s", "bold"), (" ▁▂▃▅▇█", SPARK_STYLE)),
    *(((word.ljust(8), style), ("after", "$text-muted")) for word, style in STATUS_STYLES.items()),
    (("wide 界界 chars…", "$warning"), (" and ", ""), ("more", "$error")),
    (("x" * 200, "$accent"),),  # longer than the panel: cut at its width
    (("界" * 120, ""),),  # cut inside a wide character
    (("", "$success"), ("after an empty span", "")),
    (),
)


def cells(strip: Strip) -> list[tuple[str, RichStyle, tuple[int, int] | None]]:
    """Each cell's character, its style without meta, and the selection offset it maps to."""
    out = []
    for segment in strip:
        style = segment.style or RichStyle()
        offset = style.meta.get("offset")
        plain = RichStyle(color=style.color, bgcolor=style.bgcolor, bold=style.bold, dim=style.dim,
                          italic=style.italic, underline=style.underline, reverse=style.reverse,
                          strike=style.strike, link=style.link)
        for i, char in enumerate(segment.text):
            out.append((char, plain, None if offset is None else (offset[0] + i, offset[1])))
    return out


async def test_line_strips_match_textuals_rendering(make_app) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        for theme in app.theme_names[:3]:
            app.theme = theme
            await pilot.pause()
            for panel in app.panels:
                body = panel.body
                body.set_lines(LINES)  # compared at once: a refresh would put the panel's own lines back
                width = body.size.width
                for y, line in enumerate(LINES):
                    ours = body.render_line(y)
                    theirs = Visual.to_strips(body, to_content(line), width, 1, body.visual_style)
                    expected = theirs[0] if theirs else Strip.blank(width, body.visual_style.rich_style)
                    assert cells(ours) == cells(expected), (theme, panel.id, y)
                    assert ours.cell_length == expected.cell_length, (theme, panel.id, y)
