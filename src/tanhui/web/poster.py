"""The annual report's share image (`/me/report/YYYY.png`): a 750×1334 poster drawn on the server with
Pillow and Noto Sans CJK (Debian's fonts-noto-cjk, installed by ./run).

Two steps, so what is drawn can be checked without reading pixels: `poster_lines` (pure) decides every
line of text — the only personal datum is the masked name — and `render` draws exactly those lines.
tests/resident/test_report.py checks the lines, and that the page's PNG is what `render` makes of them.
"""

from __future__ import annotations

import calendar
import glob
import io
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from tanhui.errors import TanhuiError
from tanhui.services.annual import AnnualReport
from tanhui.web.equivalents import EQUIVALENTS
from tanhui.web.i18n import scenario_name, translator
from tanhui.web.names import mask_name
from tanhui.web.render import grams_as_kg

WIDTH, HEIGHT = 750, 1334
GREEN, GREEN_2, INK, MUTED, WHITE, PALE = "#17643f", "#2a8a5c", "#17231c", "#4d5a52", "#ffffff", "#e6f2ea"
CARD_TOP, CARD_BOTTOM = 560, 1180
HIGHLIGHTS_TOP = CARD_TOP + 320

# Debian's fonts-noto-cjk; TANHUI_CJK_FONT names another file (a .ttc or .otf with Simplified Chinese).
FONT_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-{weight}.ttc",
    "/usr/share/fonts/opentype/noto-cjk/NotoSansCJK-{weight}.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-{weight}.ttc",
)
FONT_GLOB = "/usr/share/fonts/**/NotoSansCJK*-{weight}.tt[co]"


class FontMissing(TanhuiError):
    """No CJK font on this machine: the poster cannot be drawn (a server's set-up problem, 503)."""

    http_status = 503


@dataclass(frozen=True, slots=True)
class PosterLine:
    text: str
    y: int  # the line's top, in pixels
    size: int
    color: str = WHITE
    bold: bool = False
    x: int = WIDTH // 2  # the line's centre


def _money(n: int) -> str:
    return f"{n:,}"


def _headline(report: AnnualReport, lang: str) -> list[PosterLine]:
    _ = translator(lang)
    who = mask_name(report.display_name) or _("A low-carbon resident")
    lines = [
        PosterLine(report.scheme_name, 70, 28),
        PosterLine(_("My {year} carbon report").format(year=report.year), 120, 52, bold=True),
        PosterLine(_("{name}'s low-carbon year").format(name=who), 200, 30),
        PosterLine(_("CO₂e reduced"), 285, 28),
        PosterLine(f"{grams_as_kg(report.carbon_g)} kg", 330, 76, bold=True),
    ]
    y = 440
    for e in EQUIVALENTS:
        if e.key == "grid_kwh":
            continue
        text = (e.text_en if lang == "en" else e.text_zh).format(n=f"{e.amount(report.carbon_g):,}")
        lines.append(PosterLine("≈ " + text + (" *" if e.assumption else ""), y, 28))
        y += 46
    return lines


def _figures(report: AnnualReport, lang: str) -> list[PosterLine]:
    _ = translator(lang)
    rows = [
        (_("Low-carbon behaviours"), _money(report.events)),
        (_("Active days"), _money(report.active_days)),
        (_("Points earned"), _money(report.points_earned)),
        (_("Best check-in streak"), _("{n} days").format(n=report.best_streak)),
    ]
    lines = []
    for i, (label, value) in enumerate(rows):  # two by two
        x, y = (WIDTH // 2 - 160, WIDTH // 2 + 160)[i % 2], CARD_TOP + 40 + 150 * (i // 2)
        lines += [PosterLine(label, y, 26, MUTED, x=x), PosterLine(value, y + 40, 48, GREEN, bold=True, x=x)]
    return lines


def share_ahead(report: AnnualReport) -> int:
    """The whole percentage of this year's reducers in the scheme the person reduced more than (0: none to say)."""
    if report.standing is None or report.standing.people < 2:
        return 0
    return report.standing.ahead_of * 100 // report.standing.people


def _highlights(report: AnnualReport, lang: str) -> list[PosterLine]:
    _ = translator(lang)
    said = []
    if report.by_scenario:
        scenario, events, _grams = report.by_scenario[0]
        said.append(_("Most often: {scenario}, {n} times").format(scenario=scenario_name(lang)(scenario), n=events))
    best = report.best_month
    if best is not None:
        month = calendar.month_name[best[0]] if lang == "en" else f"{best[0]} 月"
        said.append(_("Greenest month: {month}").format(month=month))
    share = share_ahead(report)
    if share:
        said.append(_("Ahead of {share}% of this year's reducers").format(share=share))
    if not said:
        said.append(_("Every low-carbon trip counts. See you next year!"))
    return [PosterLine(text, HIGHLIGHTS_TOP + 34 + 72 * i, 30, INK) for i, text in enumerate(said[:3])]


def poster_lines(report: AnnualReport, lang: str) -> list[PosterLine]:
    """Every line of the poster, top to bottom. Nothing personal but the masked name."""
    _ = translator(lang)
    footer = [
        PosterLine(_("* a tree's yearly uptake is an estimate"), 1210, 20),
        PosterLine(_("Tanhui — open-source carbon inclusion platform"), 1250, 24),
    ]
    return _headline(report, lang) + _figures(report, lang) + _highlights(report, lang) + footer


def find_font(weight: str = "Regular") -> Path:
    """The Noto Sans CJK file of that weight, or FontMissing naming the package to install."""
    override = os.environ.get("TANHUI_CJK_FONT")
    candidates = [override] if override else []
    candidates += [f.format(weight=weight) for f in FONT_FILES]
    candidates += sorted(glob.glob(FONT_GLOB.format(weight=weight), recursive=True))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    if weight != "Regular":
        return find_font("Regular")
    raise FontMissing("font_missing", font="Noto Sans CJK (Debian: fonts-noto-cjk)")


@lru_cache(maxsize=32)
def _font(size: int, bold: bool) -> ImageFont.FreeTypeFont:
    path = find_font("Bold" if bold else "Regular")
    if path.suffix.lower() == ".ttc":  # a collection: pick its Simplified Chinese face
        for index in range(10):
            try:
                face = ImageFont.truetype(str(path), size, index=index)
            except OSError:
                break
            if "SC" in (face.getname()[0] or ""):
                return face
    return ImageFont.truetype(str(path), size)


@lru_cache(maxsize=1)
def _background() -> Image.Image:
    """The gradient and the two cards, drawn once per process (every poster starts from a copy)."""
    image = Image.new("RGB", (WIDTH, HEIGHT), GREEN)
    draw = ImageDraw.Draw(image)
    for y in range(0, HEIGHT, 2):  # a vertical gradient, green to a lighter green
        mix = y / HEIGHT
        colour = tuple(int(a + (b - a) * mix) for a, b in zip((0x17, 0x64, 0x3F), (0x2A, 0x8A, 0x5C), strict=True))
        draw.rectangle((0, y, WIDTH, y + 1), fill=colour)
    draw.rounded_rectangle((40, CARD_TOP, WIDTH - 40, CARD_BOTTOM), radius=28, fill=WHITE)
    draw.rounded_rectangle((70, HIGHLIGHTS_TOP, WIDTH - 70, CARD_BOTTOM - 30), radius=18, fill=PALE)
    return image


def render(lines: list[PosterLine]) -> bytes:
    """The PNG of exactly these lines, each centred on its x, over the background."""
    image = _background().copy()
    draw = ImageDraw.Draw(image)
    for line in lines:
        font = _font(line.size, line.bold)
        width = draw.textlength(line.text, font=font)
        draw.text((line.x - width / 2, line.y), line.text, font=font, fill=line.color)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)  # a third of level 6's time, a larger file
    return out.getvalue()


__all__ = ["HEIGHT", "WIDTH", "FontMissing", "PosterLine", "find_font", "poster_lines", "render", "share_ahead"]
