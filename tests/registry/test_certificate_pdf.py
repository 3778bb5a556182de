"""The PDF certificate as a reader gets it: an A4 page with its fonts embedded, every character drawn from a
real glyph, the purpose once in the reader's language, the retirement time in the scheme's zone, content
spread over the page, and a QR code that decodes (from the rendered page) to the public verification page.

The page is rendered by PDFium (pypdfium2, the engine of Chrome's viewer) and the code read by zxing-cpp,
both from PyPI wheels, so the test needs no system tool.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from tanhui import certificates
from tanhui.certificates import CertificateFontMissing, certificate_pdf
from tests.pdf_reading import pdf_page_image, pdf_text
from tests.registry.helpers import retired_city

BASE = "https://registry.example"
SHANGHAI = ZoneInfo("Asia/Shanghai")
A4 = (595.28, 841.89)


@pytest.fixture
def cert(store: Any) -> Iterator[dict[str, Any]]:
    yield retired_city(store)["certificate"]


def _page_fonts(page: Any) -> list[Any]:
    resources: Any = page["/Resources"]
    return list(resources["/Font"].values())


def _fonts(data: bytes) -> list[tuple[str, DictionaryObject]]:
    """Every font on every page as (its name, its descriptor): for a composite font, its descendant's."""
    found = []
    for page in PdfReader(io.BytesIO(data)).pages:
        for ref in _page_fonts(page):
            font = ref.get_object()
            shown = font["/DescendantFonts"][0].get_object() if font["/Subtype"] == "/Type0" else font
            found.append((str(font["/BaseFont"]), shown["/FontDescriptor"].get_object()))
    return found


def _code_to_cid(data: bytes) -> dict[int, int]:
    """The composite fonts' maps from the codes in the page to glyph (CID) numbers."""
    mapping: dict[int, int] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for ref in _page_fonts(page):
            encoding = ref.get_object().get("/Encoding")
            if encoding is None or isinstance(encoding.get_object(), str):
                continue
            cmap = encoding.get_object().get_data().decode("latin-1")
            for code, cid in re.findall(r"<([0-9A-Fa-f]+)>\s+(\d+)", cmap.split("begincidchar", 1)[-1]):
                mapping[int(code, 16)] = int(cid)
    return mapping


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_the_pdf_is_an_a4_page_with_embedded_subset_fonts_and_every_glyph(cert: dict[str, Any]) -> None:
    data = certificate_pdf(cert, BASE, "zh-CN", SHANGHAI)
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (round(float(box.width), 2), round(float(box.height), 2)) == A4
    fonts = _fonts(data)
    assert fonts
    for name, descriptor in fonts:
        assert re.match(r"^/[A-Z]{6}\+", name), f"{name} is not a subset"
        assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), f"{name} is not embedded"
    # no character was drawn with the missing-glyph box (.notdef is glyph 0), and none was dropped
    glyphs = _code_to_cid(data)
    assert len(glyphs) > 50 and 0 not in glyphs.values()
    text = pdf_text(data)
    retired = datetime.fromisoformat(cert["retired_at"]).astimezone(SHANGHAI)
    for shown in (
        "碳普惠减排量注销证明",
        cert["retirement_id"],
        cert["scheme_name"],
        "城市马拉松组委会",
        "2026 城市马拉松碳中和",
        "3 t CO2e",  # the subscript ₂ is a small 2
        f"{retired:%Y-%m-%d %H:%M} (UTC+8)",
        cert["blocks"][0]["serial_first"],
        cert["blocks"][0]["serial_last"],
        cert["blocks"][0]["merkle_root"],
        "节约用电（electricity-saving-cn@1）",
        " · ",
        BASE + cert["url"],
    ):
        assert shown in text, shown
    # the purpose once, in Chinese only; no ISO time
    assert text.count("城市马拉松碳中和") == 1 and "carbon neutrality" not in text.lower()
    assert "T" + cert["retired_at"].split("T")[1][:5] not in text


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_the_qr_code_decodes_to_the_verification_page(cert: dict[str, Any]) -> None:
    import zxingcpp

    for lang in ("zh-CN", "en"):
        image = pdf_page_image(certificate_pdf(cert, BASE, lang, SHANGHAI))
        found = [b.text for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.BarcodeFormat.QRCode]
        assert found == [BASE + cert["url"]], found


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_the_page_is_filled_not_half_empty(cert: dict[str, Any]) -> None:
    """Inside the frame, no blank band is taller than a tenth of the page (the old PDF left half of it empty)."""
    image = pdf_page_image(certificate_pdf(cert, BASE, "zh-CN", SHANGHAI), scale=1).convert("L")
    width, height = image.size
    inner = image.crop((40, 40, width - 40, height - 40))
    pixels = inner.load()
    blank_run = longest = 0
    for y in range(inner.size[1]):
        if all(pixels[x, y] > 235 for x in range(0, inner.size[0], 2)):
            blank_run += 1
            longest = max(longest, blank_run)
        else:
            blank_run = 0
    assert longest < height / 10, f"a blank band of {longest} of {height} points"


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_english_says_the_purpose_once_in_english_with_the_local_time(cert: dict[str, Any]) -> None:
    text = pdf_text(certificate_pdf(cert, BASE, "en", SHANGHAI))
    retired = datetime.fromisoformat(cert["retired_at"]).astimezone(SHANGHAI)
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    assert "Carbon inclusion credit retirement certificate" in text
    assert text.count("Carbon neutrality of 2026 城市马拉松") == 1 and "碳中和" not in text
    assert f"{retired.day} {months[retired.month - 1]} {retired.year}, {retired:%H:%M} (UTC+8)" in text
    assert "Household electricity saved (electricity-saving-cn@1)" in text


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_the_same_certificate_gives_the_same_bytes(cert: dict[str, Any]) -> None:
    first = certificate_pdf(cert, BASE, "zh-CN", SHANGHAI)
    certificates._render.cache_clear()
    assert certificate_pdf(cert, BASE, "zh-CN", SHANGHAI) == first
    assert certificate_pdf(cert, BASE, "en", SHANGHAI) != first


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_many_serial_ranges_continue_on_numbered_a4_pages(cert: dict[str, Any]) -> None:
    block = cert["blocks"][0]
    many = {**cert, "blocks": [{**block, "serial_first": f"{block['serial_first']}-{i}"} for i in range(14)]}
    data = certificate_pdf(many, BASE, "zh-CN", SHANGHAI)
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) > 1
    assert all((round(float(p.mediabox.width), 2), round(float(p.mediabox.height), 2)) == A4 for p in reader.pages)
    text = pdf_text(data)
    for i in range(14):
        assert f"{block['serial_first']}-{i} –" in text
    assert f"第 1 页，共 {len(reader.pages)} 页" in text and "续" in text


def test_a_server_without_a_cjk_font_refuses_the_pdf_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(certificates.FONT_ENV, "/nonexistent/font.otf")
    with pytest.raises(CertificateFontMissing) as refused:
        certificates.font_files()
    assert refused.value.http_status == 503 and refused.value.code == "certificate_font_missing"
    assert "fonts-noto-cjk" in refused.value.message("zh-CN") and "fonts-noto-cjk" in refused.value.message("en")


def test_the_purpose_of_a_neutralisation_is_said_once_per_language() -> None:
    stored = {"purpose": "2026 城市马拉松 碳中和 / carbon neutrality of 2026 城市马拉松", "details": {"event": "2026 城市马拉松"}}
    assert certificates.purpose_text(stored, "zh-CN") == "2026 城市马拉松碳中和"
    assert certificates.purpose_text(stored, "en") == "Carbon neutrality of 2026 城市马拉松"
    named = {
        "purpose": "2026 马拉松碳中和 碳中和 / carbon neutrality of 2026 马拉松碳中和",
        "details": {"event": "2026 马拉松碳中和"},
    }
    assert certificates.purpose_text(named, "zh-CN") == "2026 马拉松碳中和"  # not "…碳中和碳中和"
    free = {"purpose": "员工差旅碳中和", "details": {}}  # a purpose typed at `credits retire`: shown as given
    assert certificates.purpose_text(free, "en") == "员工差旅碳中和"


def test_the_certificate_writes_times_as_the_pages_do() -> None:
    from tanhui.web.times import LocalTimes

    for moment in ("2026-05-01T07:18:09+00:00", "2026-12-31T16:05:00+00:00"):
        for lang in ("zh-CN", "en"):
            iso, text = certificates.local_time(moment, SHANGHAI, lang)
            shown = LocalTimes(SHANGHAI, lang)
            assert (iso, text) == (shown.iso(moment), shown.text(moment))
    assert certificates.utc_offset("2026-05-01T07:18:09+00:00", ZoneInfo("Asia/Kolkata")) == "UTC+5:30"
    assert certificates.utc_offset("2026-01-01T00:00:00+00:00", ZoneInfo("America/Sao_Paulo")) == "UTC−3"


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_over_http_a_missing_font_is_a_page_that_says_what_to_install(live_server_factory: Any, fresh_store_url: str) -> None:
    import httpx

    from tanhui.store import Store
    from tests.live import cli

    cli(fresh_store_url, "db", "upgrade")
    store = Store(fresh_store_url)
    try:
        cert = retired_city(store)["certificate"]
    finally:
        store.dispose()
    server = live_server_factory(fresh_store_url, migrate_first=False, env={certificates.FONT_ENV: "/nonexistent/font.otf"})
    answer = httpx.get(server.base_url + cert["pdf_url"], timeout=30)
    assert answer.status_code == 503 and answer.headers["content-type"].startswith("text/html")
    assert "<header" in answer.text and "Traceback" not in answer.text
    assert "fonts-noto-cjk" in server.log()  # what the operator is told to install
    assert httpx.get(server.base_url + cert["url"], timeout=30).status_code == 200  # the page itself needs no font


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_long_address_wraps_inside_the_frame(cert: dict[str, Any]) -> None:
    import pypdfium2 as pdfium
    import zxingcpp

    base = "https://carbon-inclusion-registry.example.gov.cn/tanhui/public"
    data = certificate_pdf(cert, base, "en", SHANGHAI)
    assert (base + cert["url"]) in pdf_text(data).replace("\r\n", "").replace("\n", "")
    document = pdfium.PdfDocument(data)
    try:
        text = document[0].get_textpage()
        rights = [text.get_charbox(i)[2] for i in range(text.count_chars())]
        assert max(rights) < A4[0] - 27, "text runs over the frame"
    finally:
        document.close()
    found = [b.text for b in zxingcpp.read_barcodes(pdf_page_image(data))]
    assert found == [base + cert["url"]]
