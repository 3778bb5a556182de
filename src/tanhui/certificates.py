"""Retirement certificates: what the page and the PDF say (``view``), and the PDF itself (``certificate_pdf``).

A certificate is shown to people who did not take part (a sponsor's auditors, the public), often printed
or forwarded, so the PDF carries its own font: Noto Sans CJK SC, embedded as a subset of the glyphs the
page uses (fpdf2 subsets CFF outlines through fontTools; ReportLab embeds only TrueType outlines, and the
CJK fonts Debian ships are CFF). Without an embedded font a viewer with no CJK font showed empty boxes.
The font is found in Debian's fonts-noto-cjk (installed by ./run) or at ``TANHUI_PDF_FONT``; without one
the PDF is refused with ``certificate_font_missing`` rather than drawn with missing glyphs.

Page and PDF share ``view``: one wording per language (the purpose appears once, in the chosen language),
the retirement time in the scheme's zone, and a QR code that opens the public verification page.
The same certificate, language and address always give the same PDF bytes.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import segno

from tanhui.errors import TanhuiError

LOG = logging.getLogger(__name__)

FONT_ENV = "TANHUI_PDF_FONT"  # a .ttf/.otf/.ttc file; for a collection, the face "Noto Sans CJK SC" or the first
FONT_FACE = "Noto Sans CJK SC"
FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk", "/usr/share/fonts/google-noto-cjk")
FONT_FILES = {
    "": ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf"),
    "B": ("NotoSansCJK-Bold.ttc", "NotoSansCJKsc-Bold.otf"),
}
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SUBSCRIPTS = {chr(0x2080 + d): str(d) for d in range(10)}  # CO₂e: Noto CJK has no ₂, so it is drawn as a small 2

WORDS: dict[str, tuple[str, str]] = {
    "title": ("碳普惠减排量注销证明", "Carbon inclusion credit retirement certificate"),
    "number": ("证书编号", "Certificate No."),
    "credits": ("减排量 {n} 个（每个为 1 吨二氧化碳当量）", "Credits: {n} (one credit is one tonne of CO₂ equivalent)"),
    "purpose": ("用途", "Purpose"),
    "scheme": ("方案", "Scheme"),
    "vintage": ("年份", "Vintage"),
    "methodology": ("方法学", "Methodology"),
    "retired_at": ("注销时间", "Retired at"),
    "serials": ("注销的序列号", "Retired serials"),
    "batch": ("批次", "Batch"),
    "merkle_root": ("默克尔根", "Merkle root"),
    "verify": ("核验本证书", "Verify this certificate"),
    "scan": (
        "扫描二维码或打开下面的链接，可在公开登记簿中查看本证书。",
        "Scan the code or open the link to see this certificate in the public registry.",
    ),
    "merkle_note": (
        "每个批次的默克尔根承诺了汇入该批次的全部低碳行为，任何人都可以在公开登记簿中核验某一行为是否在批次内。",
        "Each batch's Merkle root commits to every behaviour pooled into it: anyone can check in the public registry "
        "whether a behaviour is part of a batch.",
    ),
    "download": ("下载 PDF 证书", "Download the PDF certificate"),
    "qr": ("核验本证书的二维码", "QR code to verify this certificate"),
    "continued": ("续", "continued"),
    "list_separator": ("；", "; "),
    "page": ("第 {i} 页，共 {n} 页", "Page {i} of {n}"),
    "footer": ("碳惠 Tanhui · 开源碳普惠平台", "Tanhui 碳惠 · open-source carbon inclusion platform"),
    "neutrality": ("{event}碳中和", "Carbon neutrality of {event}"),
    "statement": (
        "兹证明，{holder}已在{scheme}登记簿中为{beneficiary}永久注销下列碳普惠减排量。注销后的减排量不能再转让或使用。",
        "This certifies that {holder} has permanently retired the carbon inclusion credits below in the registry "
        "of {scheme}, on behalf of {beneficiary}. Retired credits can never be transferred or used again.",
    ),
    "statement_own": (
        "兹证明，{holder}已在{scheme}登记簿中永久注销下列碳普惠减排量。注销后的减排量不能再转让或使用。",
        "This certifies that {holder} has permanently retired the carbon inclusion credits below in the registry "
        "of {scheme}. Retired credits can never be transferred or used again.",
    ),
}


class CertificateFontMissing(TanhuiError):
    """No CJK font to embed: the server lacks fonts-noto-cjk and TANHUI_PDF_FONT is unset."""

    http_status = 503


def words(lang: str) -> dict[str, str]:
    index = 1 if lang == "en" else 0
    return {key: pair[index] for key, pair in WORDS.items()}


def local_time(moment: datetime | str, zone: ZoneInfo, lang: str) -> tuple[str, str]:
    """(ISO 8601 with the zone's offset, the local time written for the language): 2026-05-01 15:18 in
    Chinese, 1 May 2026, 15:18 in English, as everywhere on the site."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
    if lang == "en":
        text = f"{local.day} {MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M}"
    else:
        text = f"{local:%Y-%m-%d %H:%M}"
    return local.isoformat(timespec="seconds"), text


def utc_offset(moment: datetime | str, zone: ZoneInfo) -> str:
    """UTC+8, UTC+5:30, UTC−3: the offset a reader abroad needs beside a local time on paper."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    offset = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def purpose_text(cert: dict[str, Any], lang: str) -> str:
    """The purpose once, in the language. A neutralisation stores "{event} 碳中和 / carbon neutrality of
    {event}" (services/registry/movements.py); shown as it is, that printed the purpose twice."""
    event = (cert.get("details") or {}).get("event")
    if isinstance(event, str) and cert["purpose"] == f"{event} 碳中和 / carbon neutrality of {event}":
        if lang != "en" and event.rstrip().endswith("碳中和"):
            return event
        return words(lang)["neutrality"].format(event=event if lang == "en" else event.rstrip())
    return str(cert["purpose"])


def methodology_title(ref: str, lang: str) -> str:
    """ "节约用电（electricity-saving-cn@1）": the methodology's name, then its exact reference."""
    from tanhui.services.methodologies import default_library

    try:
        found = default_library().get_ref(ref)
    except TanhuiError:
        return ref
    title = found.title_en if lang == "en" else found.title_zh
    return f"{title} ({ref})" if lang == "en" else f"{title}（{ref}）"


@dataclass(frozen=True)
class Fact:
    key: str
    label: str
    value: str
    iso: str | None = None  # a time: its ISO 8601 text with the scheme's offset


@dataclass(frozen=True)
class Serials:
    first: str
    last: str
    quantity: int
    batch_id: str
    vintage: int
    methodology: str
    merkle_root: str


@dataclass(frozen=True)
class CertificateView:
    """Everything a certificate says, in one language."""

    lang: str
    retirement_id: str
    scheme_name: str
    quantity: int
    statement: str
    facts: tuple[Fact, ...]
    serials: tuple[Serials, ...]
    verify_url: str
    pdf_url: str
    offset: str  # beside the retirement time on paper
    words: dict[str, str] = field(repr=False, hash=False, compare=False)  # follows from lang

    @property
    def credits_line(self) -> str:
        return self.words["credits"].format(n=self.quantity)

    def qr_svg(self) -> str:
        return qr_svg(self.verify_url, self.words["qr"])

    def texts(self) -> Iterable[str]:
        """Every text the PDF may draw (its font is cut down to these characters)."""
        yield from self.words.values()
        yield from (self.retirement_id, self.scheme_name, self.statement, self.credits_line, self.verify_url, self.offset)
        for f in self.facts:
            yield f.label
            yield f.value
        for s in self.serials:
            yield from (s.first, s.last, s.batch_id, s.methodology, s.merkle_root)
        yield "0123456789 ()（）·–—,.:/+−t CO e"


def view(cert: dict[str, Any], lang: str, zone: ZoneInfo, base_url: str = "") -> CertificateView:
    w = words(lang)
    holder, beneficiary = cert["holder"]["name"], cert["beneficiary"]
    statement = w["statement_own" if beneficiary == holder else "statement"].format(
        holder=holder, beneficiary=beneficiary, scheme=cert["scheme_name"]
    )
    iso, when = local_time(cert["retired_at"], zone, lang)
    facts = (
        Fact("purpose", w["purpose"], purpose_text(cert, lang)),
        Fact("scheme", w["scheme"], cert["scheme_name"]),
        Fact("vintage", w["vintage"], ", ".join(str(v) for v in cert["vintages"])),
        Fact(
            "methodology", w["methodology"], w["list_separator"].join(methodology_title(m, lang) for m in cert["methodologies"])
        ),
        Fact("retired_at", w["retired_at"], when, iso),
    )
    serials = tuple(
        Serials(
            b["serial_first"], b["serial_last"], b["quantity"], b["batch_id"], b["vintage"], b["methodology"], b["merkle_root"]
        )
        for b in cert["blocks"]
    )
    return CertificateView(
        lang=lang,
        retirement_id=cert["retirement_id"],
        scheme_name=cert["scheme_name"],
        quantity=int(cert["quantity"]),
        statement=statement,
        facts=facts,
        serials=serials,
        verify_url=f"{base_url}{cert['url']}",
        pdf_url=cert["pdf_url"],
        offset=utc_offset(cert["retired_at"], zone),
        words=w,
    )


# --- the QR code -------------------------------------------------------------------------------------


def qr_runs(url: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The QR code of url (error correction M) as (modules per side, dark runs as (row, column, length))."""
    code = segno.make(url, error="m", micro=False, boost_error=False)
    runs = []
    matrix = code.matrix
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                runs.append((r, start, c - start))
            else:
                c += 1
    return len(matrix), runs


def qr_svg(url: str, label: str, quiet: int = 4) -> str:
    """Inline SVG, attributes only (no style), so a strict Content-Security-Policy allows it."""
    size, runs = qr_runs(url)
    side = size + 2 * quiet
    path = "".join(f"M{c + quiet} {r + quiet}h{n}v1h-{n}z" for r, c, n in runs)
    return (
        f'<svg class="qr" viewBox="0 0 {side} {side}" role="img" aria-label="{escape(label)}" '
        f'shape-rendering="crispEdges" xmlns="http://www.w3.org/2000/svg"><title>{escape(label)}</title>'
        f'<rect width="{side}" height="{side}" fill="#fff"/><path fill="#17231c" d="{path}"/></svg>'
    )


# --- fonts -------------------------------------------------------------------------------------------


@cache
def _face_index(path: str) -> int:
    """In a collection (.ttc), the face named Noto Sans CJK SC; else 0."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    from fontTools.ttLib import TTCollection

    collection = TTCollection(path, lazy=True)
    try:
        names = [face["name"].getDebugName(1) for face in collection.fonts]
    finally:
        collection.close()
    return names.index(FONT_FACE) if FONT_FACE in names else 0


def font_files() -> dict[str, tuple[str, int]]:
    """{"": regular, "B": bold} as (path, face index); the bold falls back to the regular."""
    chosen = os.environ.get(FONT_ENV)
    found: dict[str, tuple[str, int]] = {}
    if chosen:
        if not Path(chosen).is_file():
            missing = CertificateFontMissing("certificate_font_missing", details={"font": chosen})
            LOG.error("%s: %s=%s is not a file", missing.message("en"), FONT_ENV, chosen)
            raise missing
        found[""] = (chosen, _face_index(chosen))
    else:
        for style, names in FONT_FILES.items():
            for folder in FONT_DIRS:
                hit = next((Path(folder, n) for n in names if Path(folder, n).is_file()), None)
                if hit:
                    found[style] = (str(hit), _face_index(str(hit)))
                    break
    if "" not in found:
        missing = CertificateFontMissing("certificate_font_missing", details={"font": FONT_FACE})
        LOG.error("%s", missing.message("en"))  # the page says only "try again later"; the operator reads this
        raise missing
    found.setdefault("B", found[""])
    return found


# --- the PDF -----------------------------------------------------------------------------------------

W, H = 595.28, 841.89  # A4 in points
GREEN, INK, MUTED, LINE, PALE = (23, 100, 63), (23, 35, 28), (77, 90, 82), (199, 214, 204), (234, 244, 237)
LEFT, RIGHT = 64.0, W - 64.0
NO_BREAK_BEFORE = set("，。、；：！？）」』”’,.;:!?)]}%")
NO_BREAK_AFTER = set("（「『“‘([{")


class _Page:
    """Text drawn by hand on an fpdf2 page: widths, wrapping of mixed Chinese and Latin text, subscripts."""

    def __init__(self, pdf: Any) -> None:
        self.pdf = pdf

    def font(self, size: float, bold: bool = False) -> None:
        self.pdf.set_font("cert", "B" if bold else "", size)

    def width(self, text: str, size: float, bold: bool = False) -> float:
        total = 0.0
        for part, sub in _runs(text):
            self.font(size * 0.7 if sub else size, bold)
            total += self.pdf.get_string_width(part)
        return total

    def draw(self, x: float, y: float, text: str, size: float, bold: bool = False, color: Sequence[int] = INK) -> float:
        """Text with its baseline at y; returns the x after it."""
        self.pdf.set_text_color(*color)
        for part, sub in _runs(text):
            self.font(size * 0.7 if sub else size, bold)
            self.pdf.text(x, y + (size * 0.18 if sub else 0), part)
            x += self.pdf.get_string_width(part)
        return x

    def centred(self, y: float, text: str, size: float, bold: bool = False, color: Sequence[int] = INK) -> None:
        self.draw((W - self.width(text, size, bold)) / 2, y, text, size, bold, color)

    def wrap(self, text: str, width: float, size: float, bold: bool = False) -> list[str]:
        lines: list[str] = []
        current: list[str] = []  # the units on the line being filled
        units = []
        for unit in _units(text):  # a word wider than the line (a long link) breaks anywhere
            units += list(unit) if self.width(unit.rstrip(), size, bold) > width else [unit]
        for unit in units:
            if current and not unit.isspace() and self.width("".join([*current, unit]).rstrip(), size, bold) > width:
                carried: list[str] = []
                if unit[0] in NO_BREAK_BEFORE and len(current) > 1:  # closing punctuation takes its word along
                    carried = [current.pop()]
                while len(current) > 1 and current[-1][-1] in NO_BREAK_AFTER:  # an opening one stays with its word
                    carried.insert(0, current.pop())
                lines.append("".join(current).rstrip())
                current = [*carried, unit.lstrip()]
            else:
                current.append(unit)
        if "".join(current).strip():
            lines.append("".join(current).rstrip())
        return lines or [""]


def _runs(text: str) -> list[tuple[str, bool]]:
    """Split text into (part, is subscript) runs."""
    runs: list[tuple[str, bool]] = []
    for ch in text:
        sub = ch in SUBSCRIPTS
        shown = SUBSCRIPTS.get(ch, ch)
        if runs and runs[-1][1] == sub:
            runs[-1] = (runs[-1][0] + shown, sub)
        else:
            runs.append((shown, sub))
    return runs


def _units(text: str) -> list[str]:
    """Break opportunities: a Latin word (with its trailing spaces) or a single CJK character."""
    units: list[str] = []
    word = ""
    for ch in text:
        if ord(ch) >= 0x2E80 and not ch.isspace():  # CJK and full-width forms: a break anywhere
            if word:
                units.append(word)
                word = ""
            units.append(ch)
        elif ch.isspace():
            word += ch
            units.append(word)
            word = ""
        else:
            if word and word[-1].isspace():
                units.append(word)
                word = ""
            word += ch
    if word:
        units.append(word)
    return units


def certificate_pdf(cert: dict[str, Any], base_url: str = "", lang: str = "zh-CN", zone: ZoneInfo | None = None) -> bytes:
    """The certificate as a designed A4 page (more pages only for many serial ranges), fonts embedded."""
    shown = view(cert, lang, zone or ZoneInfo("Asia/Shanghai"), base_url)
    with _RENDERING:  # one at a time per process: each takes a second of CPU, so a burst queues, not multiplies
        return _render(shown)


_RENDERING = threading.Lock()


@lru_cache(maxsize=32)
def _render(shown: CertificateView) -> bytes:
    """Cached by everything the page says: subsetting the font takes about a second per PDF."""
    from fpdf import FPDF

    fonts = font_files()
    pdf = FPDF(orientation="P", unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    chars = sorted({ord(ch) for text in shown.texts() for ch in text} - {ord(c) for c in SUBSCRIPTS})
    for style, (path, index) in fonts.items():
        pdf.add_font("cert", style, path, collection_font_number=index, unicode_range=chars)
    retired = next(f.iso for f in shown.facts if f.iso)
    pdf.set_creation_date(datetime.fromisoformat(retired) if retired else None)
    pdf.set_title(f"{shown.words['title']} {shown.retirement_id}")
    pdf.set_author(shown.scheme_name)
    pdf.set_creator("Tanhui 碳惠")
    pdf.set_producer("Tanhui 碳惠")
    pdf.set_lang("en" if shown.lang == "en" else "zh-CN")
    _Layout(pdf, shown).draw()
    missing = {chr(c) for font in pdf.fonts.values() for c in getattr(font, "missing_glyphs", [])}
    if missing:
        LOG.warning("certificate %s: no glyph for %s", shown.retirement_id, "".join(sorted(missing)))
    return bytes(pdf.output())


class _Layout:
    """The page: a double green frame and the scheme's mark, the title, the statement, the quantity, the
    facts, the serial ranges, and at the foot the QR code and the link that verify it."""

    def __init__(self, pdf: Any, shown: CertificateView) -> None:
        self.pdf, self.v, self.page = pdf, shown, _Page(pdf)
        self.w = shown.words
        self.pages: list[int] = []

    def draw(self) -> None:
        serial_rows = [self._serial_lines(s) for s in self.v.serials]
        self._new_page()
        y = self._head(46)
        statement = self.page.wrap(self.v.statement, RIGHT - LEFT - 40, 12.5)
        facts = [(f, self.page.wrap(self._fact_value(f), RIGHT - LEFT - 120, 11.5)) for f in self.v.facts]
        foot_top = H - 190  # the verification block
        fixed = len(statement) * 19 + 84 + sum(len(v) * 16 + 8 for _, v in facts)
        first_page_rows, later = _fit(serial_rows, foot_top - y - fixed - 4.6 * 8)
        serials = 22 + sum(_rows_height(r) for r in first_page_rows) if first_page_rows else 0
        gap = max(8.0, min(36.0, (foot_top - y - fixed - serials) / 4.6))  # spread over the page, not all at the top
        y += gap
        for line in statement:
            self.page.centred(y + 13, line, 12.5)
            y += 19
        y += gap * 0.6
        y = self._quantity(y)
        y += gap
        y = self._facts(y, facts)
        y += gap
        self._serials(y, first_page_rows)
        self._verify(foot_top)
        while later:
            self._new_page()
            y = self._continued_head()
            rows, later = _fit(later, H - 80 - y)
            if not rows:  # a single range taller than a page cannot happen (three lines), but never loop
                rows, later = later[:1], later[1:]
            self._serials(y, rows)
        self._page_numbers()

    # -- pieces

    def _new_page(self) -> None:
        self.pdf.add_page()
        self.pages.append(self.pdf.page)
        pdf = self.pdf
        pdf.set_draw_color(*GREEN)
        pdf.set_line_width(2.4)
        pdf.rect(20, 20, W - 40, H - 40)
        pdf.set_line_width(0.7)
        pdf.rect(27, 27, W - 54, H - 54)
        pdf.set_fill_color(*GREEN)
        for x, y in ((27, 27), (W - 27, 27), (27, H - 27), (W - 27, H - 27)):  # corner diamonds
            pdf.polygon([(x, y - 6), (x + 6, y), (x, y + 6), (x - 6, y)], style="F")
        self.page.centred(H - 38, self.w["footer"], 8, color=MUTED)

    def _mark(self, cx: float, cy: float, r: float) -> None:
        """The mark: a leaf in a green disc."""
        pdf = self.pdf
        pdf.set_fill_color(*GREEN)
        pdf.circle(cx, cy, r, style="F")
        pdf.set_fill_color(255, 255, 255)
        top, bottom = (cx + r * 0.42, cy - r * 0.5), (cx - r * 0.45, cy + r * 0.5)
        pdf.bezier([bottom, (cx - r * 0.55, cy - r * 0.25), (cx + r * 0.05, cy - r * 0.55), top], style="F")
        pdf.bezier([top, (cx + r * 0.5, cy + r * 0.1), (cx - r * 0.05, cy + r * 0.55), bottom], style="F")
        pdf.set_draw_color(*GREEN)
        pdf.set_line_width(r * 0.07)
        pdf.line(bottom[0] + r * 0.1, bottom[1] - r * 0.1, top[0] - r * 0.12, top[1] + r * 0.12)

    def _head(self, y: float) -> float:
        self._mark(W / 2, y + 22, 22)
        y += 62
        self.page.centred(y + 12, self.v.scheme_name, 12, color=GREEN)
        y += 22
        size = 25 if self.v.lang != "en" else 19
        for line in self.page.wrap(self.w["title"], RIGHT - LEFT, size, bold=True):
            self.page.centred(y + size, line, size, bold=True)
            y += size * 1.35
        y += 6
        self.page.centred(y + 11, f"{self.w['number']}  {self.v.retirement_id}", 10.5, color=MUTED)
        y += 24
        pdf = self.pdf
        pdf.set_draw_color(*LINE)
        pdf.set_line_width(0.8)
        pdf.line(LEFT + 60, y, W / 2 - 10, y)
        pdf.line(W / 2 + 10, y, RIGHT - 60, y)
        pdf.set_fill_color(*GREEN)
        pdf.polygon([(W / 2, y - 4), (W / 2 + 4, y), (W / 2, y + 4), (W / 2 - 4, y)], style="F")
        return y + 4

    def _continued_head(self) -> float:
        y = 60.0
        self.page.centred(y + 14, self.w["title"], 14, bold=True)
        y += 26
        self.page.centred(y + 10, f"{self.w['number']}  {self.v.retirement_id} · {self.w['continued']}", 10, color=MUTED)
        return y + 40

    def _quantity(self, y: float) -> float:
        pdf = self.pdf
        box_w, box_h = 330.0, 84.0
        pdf.set_fill_color(*PALE)
        pdf.set_draw_color(*GREEN)
        pdf.set_line_width(0.8)
        pdf.rect((W - box_w) / 2, y, box_w, box_h, style="DF", round_corners=True, corner_radius=8)
        number, unit = str(self.v.quantity), " t CO₂e"
        total = self.page.width(number, 40, True) + self.page.width(unit, 20, True)
        x = (W - total) / 2
        x = self.page.draw(x, y + 47, number, 40, True, GREEN)
        self.page.draw(x, y + 47, unit, 20, True, GREEN)
        self.page.centred(y + 69, self.v.credits_line, 10, color=MUTED)
        return y + box_h

    def _fact_value(self, fact: Fact) -> str:
        return f"{fact.value} ({self.v.offset})" if fact.iso else fact.value

    def _facts(self, y: float, facts: list[tuple[Fact, list[str]]]) -> float:
        pdf = self.pdf
        for i, (fact, lines) in enumerate(facts):
            if i:
                pdf.set_draw_color(*LINE)
                pdf.set_line_width(0.5)
                pdf.line(LEFT + 10, y, RIGHT - 10, y)
            y += 5
            self.page.draw(LEFT + 10, y + 12, fact.label, 10, color=MUTED)
            for line in lines:
                self.page.draw(LEFT + 110, y + 12, line, 11.5, bold=fact.key == "purpose")
                y += 16
            y += 3
        return y

    def _serial_lines(self, s: Serials) -> list[tuple[str, float, bool, Sequence[int]]]:
        """A range's lines in the value column; its quantity stands in the label column of the first."""
        width = RIGHT - LEFT - 120
        lines: list[tuple[str, float, bool, Sequence[int]]] = []
        for text, size, bold, color in (
            (f"{s.first} –", 10.5, True, INK),
            (s.last, 10.5, True, INK),
            (f"{self.w['batch']} {s.batch_id} · {self.w['vintage']} {s.vintage} · {s.methodology}", 8.5, False, MUTED),
            (f"{self.w['merkle_root']} {s.merkle_root}", 7.5, False, MUTED),
        ):
            lines += [(part, size, bold, color) for part in self.page.wrap(text, width, size, bold)]
        return [(f"{s.quantity} t", 10.5, True, GREEN), *lines]

    def _serials(self, y: float, rows: list[list[tuple[str, float, bool, Sequence[int]]]]) -> None:
        if not rows:
            return
        self.page.draw(LEFT + 10, y + 12, self.w["serials"], 12, bold=True, color=GREEN)
        y += 22
        for quantity, *lines in rows:
            self.page.draw(LEFT + 10, y + quantity[1] + 1, quantity[0], quantity[1], quantity[2], quantity[3])
            for text, size, bold, color in lines:
                self.page.draw(LEFT + 110, y + size + 1, text, size, bold, color)
                y += size + 4
            y += 6

    def _verify(self, top: float) -> None:
        pdf = self.pdf
        pdf.set_draw_color(*LINE)
        pdf.set_line_width(0.5)
        pdf.line(LEFT, top, RIGHT, top)
        side = 112.0
        x0, y0 = LEFT + 4, top + 16
        size, runs = qr_runs(self.v.verify_url)
        module = side / size
        pdf.set_fill_color(*INK)
        for r, c, n in runs:
            pdf.rect(x0 + c * module, y0 + r * module, n * module + 0.02, module + 0.02, style="F")
        pdf.link(x0, y0, side, side, self.v.verify_url)
        x = x0 + side + 22
        width = RIGHT - x
        y = y0
        self.page.draw(x, y + 13, self.w["verify"], 13, bold=True, color=GREEN)
        y += 24
        for line in self.page.wrap(self.w["scan"], width, 9.5):
            self.page.draw(x, y + 10, line, 9.5)
            y += 14
        y += 2
        for line in self.page.wrap(self.v.verify_url, width, 9.5):
            end = self.page.draw(x, y + 10, line, 9.5, color=(15, 90, 138))
            pdf.link(x, y, end - x, 13, self.v.verify_url)
            y += 14
        y += 4
        for line in self.page.wrap(self.w["merkle_note"], width, 8):
            self.page.draw(x, y + 8, line, 8, color=MUTED)
            y += 11.5

    def _page_numbers(self) -> None:
        if len(self.pages) < 2:
            return
        for i, number in enumerate(self.pages, start=1):
            self.pdf.page = number
            text = self.w["page"].format(i=i, n=len(self.pages))
            self.page.draw(RIGHT - self.page.width(text, 8), H - 38, text, 8, color=MUTED)


def _rows_height(lines: list[tuple[str, float, bool, Sequence[int]]]) -> float:
    return sum(size + 4 for _text, size, _bold, _color in lines[1:]) + 6  # lines[0], the quantity, sits beside


def _fit(rows: list[Any], room: float) -> tuple[list[Any], list[Any]]:
    """As many serial ranges as fit in room (after the heading), and the rest."""
    used = 22.0
    for i, row in enumerate(rows):
        used += _rows_height(row)
        if used > room:
            return rows[:i], rows[i:]
    return rows, []
