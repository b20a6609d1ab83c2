"""The progress chart: a PNG a phone shows well, Chinese drawn with real glyphs, no boxes.

pytest turns warnings into errors here, so matplotlib's "Glyph ... missing from font" warning
would fail any test that renders a character the font lacks.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.chart import (
    BEHIND_COLOUR,
    ON_TRACK_COLOUR,
    ChartBar,
    ChartPanel,
    fraction,
    missing_glyphs,
    render_progress_chart,
)

STREETS = [
    "城关街道",
    "新镇街道",
    "向阳街道",
    "东风街道",
    "迎风街道",
    "星城街道",
    "拱辰街道",
    "西潞街道",
    "良乡镇",
    "周口店镇",
    "琉璃河镇",
    "阎村镇",
    "窦店镇",
    "石楼镇",
    "长阳镇",
    "河北镇",
    "长沟镇",
    "大石窝镇",
    "张坊镇",
    "十渡镇",
    "青龙湖镇",
    "韩村河镇",
    "霞云岭乡",
    "南窖乡",
    "佛子庄乡",
    "大安山乡",
    "史家营乡",
    "蒲洼乡",
]
TITLE = "房山区工会建会进度 · 截至6月30日"
FORMATION = "百人以上单位新建会 (完成/任务)"
MEETINGS = "职代会召开 (已开/12)"
FOOTNOTE = "橙色：落后于进度；虚线：100%"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def district_panels() -> list[ChartPanel]:
    formation = [
        ChartBar(name, done=i % 7, target=i % 5, behind=i % 3 == 0, highlight=name == "拱辰街道")
        for i, name in enumerate(STREETS)
    ]
    meetings = [
        ChartBar(name, done=i % 13, target=12, behind=i % 13 < 6, highlight=name == "拱辰街道")
        for i, name in enumerate(STREETS)
    ]
    return [ChartPanel(FORMATION, formation), ChartPanel(MEETINGS, meetings)]


def image(png: bytes) -> Image.Image:
    assert png.startswith(PNG_SIGNATURE)
    picture = Image.open(io.BytesIO(png))
    picture.load()
    assert picture.format == "PNG"
    return picture.convert("RGB")


def pixels_of(picture: Image.Image, colour: str) -> int:
    """How many pixels have exactly this colour: a bar's inside is drawn flat, unblended."""
    rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    counts = picture.getcolors(maxcolors=picture.width * picture.height) or []
    return sum(n for n, c in counts if c == rgb)


def test_the_district_chart_is_a_png_a_phone_shows_well() -> None:
    png = render_progress_chart(district_panels(), title=TITLE, footnote=FOOTNOTE)
    picture = image(png)
    assert 1000 <= picture.width <= 1400
    assert 900 <= picture.height <= 1600, "28 rows, each tall enough to read"
    assert len(png) < 300_000


def test_the_font_has_every_character_the_chart_draws() -> None:
    drawn = "".join(STREETS) + TITLE + FORMATION + MEETINGS + FOOTNOTE + "0123456789/"
    assert missing_glyphs(drawn) == set()


@pytest.mark.parametrize("character", ["\U0001f600", "\ue000"])
def test_missing_glyphs_names_what_the_font_lacks(character: str) -> None:
    # An emoji and a private-use character: Noto Sans CJK has neither.
    assert missing_glyphs(f"良乡镇 {character}") == {character}


def test_whitespace_is_never_missing() -> None:
    assert missing_glyphs(" \t\n\u3000") == set()


def test_nothing_to_draw_still_gives_a_picture() -> None:
    assert image(render_progress_chart([], title=TITLE)).width >= 1000
    assert image(render_progress_chart([ChartPanel(FORMATION, [])], title=TITLE)).height > 0


def test_a_zero_target_counts_as_complete() -> None:
    nothing_to_do = ChartBar("蒲洼乡", done=0, target=0, behind=False)
    beyond = ChartBar("良乡镇", done=15, target=12, behind=False)
    assert fraction(nothing_to_do) == 1.0
    assert fraction(beyond) == 1.0
    assert fraction(ChartBar("窦店镇", done=3, target=12, behind=True)) == 0.25
    png = render_progress_chart([ChartPanel(FORMATION, [nothing_to_do, beyond])], title=TITLE)
    assert pixels_of(image(png), ON_TRACK_COLOUR) > 0


def test_panels_of_different_streets_each_name_their_own() -> None:
    panels = [
        ChartPanel(FORMATION, [ChartBar("良乡镇", 1, 2, behind=False, highlight=True)]),
        ChartPanel(
            MEETINGS, [ChartBar("蒲洼乡", 3, 12, behind=True), ChartBar("十渡镇", 0, 12, True)]
        ),
    ]
    image(render_progress_chart(panels, title=TITLE, footnote=FOOTNOTE))


def test_behind_schedule_is_drawn_in_the_warning_colour() -> None:
    on_track = ChartBar("良乡镇", done=6, target=12, behind=False)
    behind = ChartBar("蒲洼乡", done=6, target=12, behind=True)
    both = image(render_progress_chart([ChartPanel(MEETINGS, [on_track, behind])], title=TITLE))
    fine = image(render_progress_chart([ChartPanel(MEETINGS, [on_track, on_track])], title=TITLE))
    # Each half bar is some 400 x 25 pixels.
    assert pixels_of(both, BEHIND_COLOUR) > 5_000
    assert pixels_of(both, ON_TRACK_COLOUR) > 5_000
    assert pixels_of(fine, BEHIND_COLOUR) == 0
