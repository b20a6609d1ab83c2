"""A progress chart as PNG bytes: one panel of horizontal bars per measure, side by side.

Rendering goes through matplotlib's object-oriented API on the Agg canvas only: pyplot keeps
global state and is not thread-safe, and the bot renders in a worker thread
(asyncio.to_thread). matplotlib is imported inside the functions, so importing this module
(for ChartBar and ChartPanel) costs nothing at start-up.

No text is made up here: titles, labels and the footnote all come in as arguments.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.font_manager import FontProperties
    from matplotlib.patheffects import AbstractPathEffect

# The font ships inside the mplfonts wheel, so `pip install` (the README's install step) is
# all a fresh machine needs for Chinese labels: no system CJK font. Noto Sans CJK is under the
# SIL Open Font License; the package's SimHei.ttf is not used, its licence is unclear.
FONT_PACKAGE = "mplfonts"
FONT_FILE = "NotoSansCJKsc-Regular.otf"

ON_TRACK_COLOUR = "#1c7ed6"  # blue; with the orange below, also apart for red-green blindness
BEHIND_COLOUR = "#f76707"
TRACK_COLOUR = "#e9ecef"  # the unfilled rest of each bar, up to 100%
HIGHLIGHT_COLOUR = "#fff3bf"  # the band behind the asker's own row
TEXT_COLOUR = "#212529"
MUTED_COLOUR = "#495057"

DPI = 100
WIDTH_IN = 12.0  # 1200 px: sharp when a phone opens the photo full screen
ROW_IN = 0.36  # per bar; 28 bars come to about 1200 px in all
HEAD_IN = 1.1  # the title and the panel titles
FOOT_IN = 0.45  # the footnote
X_MAX = 1.3  # room right of the 100% line for the "done/target" of a full bar


@dataclass(frozen=True)
class ChartBar:
    label: str  # e.g. a street name
    done: int
    target: int  # may be 0: then the bar is full
    behind: bool  # behind schedule: drawn in the warning colour
    highlight: bool = False  # the asker's own street: bold label on a tinted band


@dataclass(frozen=True)
class ChartPanel:
    title: str
    bars: Sequence[ChartBar]


@functools.cache
def font_path() -> str:
    """The CJK font file inside the installed mplfonts package."""
    return str(resources.files(FONT_PACKAGE) / "fonts" / FONT_FILE)


def missing_glyphs(text: str) -> set[str]:
    """The characters of `text` (whitespace aside) the chart's font has no glyph for, which
    would be drawn as empty boxes."""
    # get_font: matplotlib's own per-thread cache of open fonts, the one the drawing uses.
    from matplotlib.font_manager import get_font

    font = get_font(font_path())
    return {c for c in set(text) if not c.isspace() and font.get_char_index(ord(c)) == 0}


def fraction(bar: ChartBar) -> float:
    """How much of the bar is filled, 0..1: past the target still draws a full bar, and
    nothing to do counts as done."""
    if bar.target <= 0:
        return 1.0
    return min(max(bar.done / bar.target, 0.0), 1.0)


def render_progress_chart(panels: Sequence[ChartPanel], *, title: str, footnote: str = "") -> bytes:
    """The chart as PNG bytes: `title` on top, the panels side by side, the first bar of each
    at the top, and `footnote` in small print below."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = max((len(p.bars) for p in panels), default=0)
    # Rows keep their height whatever their number: a short chart is a short picture.
    height = HEAD_IN + FOOT_IN + max(rows, 1) * ROW_IN
    # Constrained layout fits the labels, whatever their length, without overlaps.
    figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title, fontproperties=_font(17), color=TEXT_COLOUR)
    if footnote:
        figure.supxlabel(footnote, x=0.01, ha="left", fontproperties=_font(11), color=MUTED_COLOUR)

    # The same streets in every panel: name them once, on the left, and give the bars the room.
    labels = [[b.label for b in p.bars] for p in panels]
    shared = len(panels) > 1 and all(lab == labels[0] for lab in labels)
    if panels:
        axes = figure.subplots(1, len(panels), squeeze=False)[0]
        for index, (ax, panel) in enumerate(zip(axes, panels, strict=True)):
            _draw_panel(ax, panel, rows, labelled=index == 0 or not shared)

    buffer = io.BytesIO()
    # No "Software: matplotlib x.y" text chunk: nothing in the file but the picture.
    figure.savefig(buffer, format="png", facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _draw_panel(ax: Axes, panel: ChartPanel, rows: int, *, labelled: bool) -> None:
    bars = list(panel.bars)
    positions = list(range(len(bars)))
    ax.set_title(panel.title, fontproperties=_font(14), color=TEXT_COLOUR, loc="left")
    # Rows count from the top, as the caller listed them; panels of fewer bars stay aligned.
    ax.set_ylim(max(rows, 1) - 0.5, -0.5)
    ax.set_xlim(0, X_MAX)
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color(MUTED_COLOUR)
    ax.tick_params(axis="y", length=0, pad=6)

    for y, bar in zip(positions, bars, strict=True):
        if bar.highlight:
            ax.axhspan(y - 0.5, y + 0.5, color=HIGHLIGHT_COLOUR, zorder=0)
    ax.barh(positions, [1.0] * len(bars), height=0.7, color=TRACK_COLOUR, zorder=1)
    filled = [fraction(b) for b in bars]
    colours = [BEHIND_COLOUR if b.behind else ON_TRACK_COLOUR for b in bars]
    ax.barh(positions, filled, height=0.7, color=colours, zorder=2)
    ax.axvline(1.0, color=MUTED_COLOUR, linewidth=1, linestyle="--", zorder=3)

    for y, bar, x in zip(positions, bars, filled, strict=True):
        ax.text(
            x + 0.015,
            y,
            f"{bar.done}/{bar.target}",
            va="center",
            ha="left",
            fontproperties=_font(11),
            color=TEXT_COLOUR,
            zorder=4,
            # A halo keeps the numbers legible where they cross the 100% line.
            path_effects=_halo() + (_bold(TEXT_COLOUR) if bar.highlight else []),
        )

    ax.set_yticks(positions)
    if not labelled:
        ax.tick_params(axis="y", labelleft=False)
        return
    ticks = ax.set_yticklabels([b.label for b in bars], fontproperties=_font(13), color=TEXT_COLOUR)
    for tick, bar in zip(ticks, bars, strict=True):
        if bar.highlight:
            tick.set_path_effects(_bold(TEXT_COLOUR))
            tick.set_bbox({"facecolor": HIGHLIGHT_COLOUR, "edgecolor": "none", "pad": 6})


def _font(size: float) -> FontProperties:
    from matplotlib.font_manager import FontProperties

    return FontProperties(fname=font_path(), size=size)


def _halo() -> list[AbstractPathEffect]:
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=3, foreground="white")]


def _bold(colour: str) -> list[AbstractPathEffect]:
    """Bold by outlining the glyphs: the font ships in one weight, Regular, and matplotlib
    does not embolden a font file it is given."""
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=0.9, foreground=colour)]
