"""The public registry and the certificate in Debian's Chromium, at a phone and a desktop size, in Chinese and
English (issue 17, item 7): pages of the site (its header, language switch and stylesheet), no horizontal
overflow, no console error, times in the scheme's zone, the purpose once in the chosen language, a QR code
on the certificate, and the PDF in the same language.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tanhui import certificates
from tanhui.store import Store
from tests.pdf_reading import pdf_text
from tests.registry.helpers import retired_city
from tests.web.reading import time_problems
from tests.web.test_browser import Watched, browser  # noqa: F401 (the fixture)
from tests.web.test_browser_experience import READ_PAGE

SHANGHAI = ZoneInfo("Asia/Shanghai")
LANGS = ("zh-CN", "en")


@pytest.fixture
def registry(live: Any, tmp_path: Path) -> Iterator[tuple[Any, dict[str, Any]]]:
    store = Store(live.database_url)
    try:
        yield live, retired_city(store)
    finally:
        store.dispose()


def _site_page(w: Watched, lang: str, problems: list[str]) -> None:
    """The page is one of the site's: its header with the brand and the switch to the other language, its
    stylesheet applied, a heading; times in the scheme's zone; no overflow or console error."""
    page = w.page
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("header.top a.brand").is_visible()
    switch = page.locator("header.top .lang a")
    assert switch.is_visible() and switch.get_attribute("hreflang") == ("en" if lang == "zh-CN" else "zh-CN")
    assert page.locator("link[rel=stylesheet][href='/static/app.css']").count() == 1
    assert page.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor") == "rgb(23, 100, 63)"
    assert page.locator("style, [style]").count() == 0  # no inline styles: the CSP may forbid them
    assert page.locator("main h1").first.is_visible()
    read = page.evaluate(READ_PAGE)
    problems += time_problems([(a, t) for a, t in read["times"]], read["text"], SHANGHAI, lang, f"{lang} {page.url}")
    w.check()


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser
def test_the_registry_pages_are_pages_of_the_site(browser: Any, registry: Any, viewport: str) -> None:  # noqa: F811
    live, made = registry
    cert = made["certificate"]
    pages = (
        "/registry",
        f"/registry/batches/{cert['blocks'][0]['batch_id']}",
        f"/registry/proof?partner={made['city'].partner.id}&event=el-u-0",
        "/registry/ledger-heads?scheme=city",
    )
    problems: list[str] = []
    w = Watched(browser, viewport, live.base_url)
    try:
        for lang in LANGS:
            w.go(f"/lang/{lang}?next=/registry")
            for path in pages:
                w.go(path)
                _site_page(w, lang, problems)
            w.go("/registry")
            assert w.page.locator("main time").count() >= 2  # the certificate's and the batch's times
            listed = w.page.locator(f"main a[href='{cert['url']}']").inner_text()
            assert listed == certificates.purpose_text(cert, lang)
    finally:
        w.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser
def test_the_certificate_is_a_designed_page_in_one_language(browser: Any, registry: Any, viewport: str) -> None:  # noqa: F811
    live, made = registry
    cert = made["certificate"]
    problems: list[str] = []
    w = Watched(browser, viewport, live.base_url)
    try:
        for lang in LANGS:
            w.go(f"/lang/{lang}?next={cert['url']}")
            page = w.page
            _site_page(w, lang, problems)
            article = page.locator("article.certificate")
            box = article.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]
            assert page.evaluate("getComputedStyle(document.querySelector('article.certificate')).borderTopStyle") == "double"
            text = article.inner_text()
            purpose, other = (
                certificates.purpose_text(cert, lang),
                certificates.purpose_text(cert, "en" if lang == "zh-CN" else "zh-CN"),
            )
            assert text.count(purpose) == 1, f"the purpose {purpose!r} is not shown exactly once"
            assert other not in text and ("carbon neutrality" not in text.lower() if lang == "zh-CN" else "碳中和" not in text)
            for shown in (cert["retirement_id"], cert["scheme_name"], "城市马拉松组委会", cert["blocks"][0]["serial_last"]):
                assert shown in text, shown
            assert page.locator("h1#cert-title").inner_text() == certificates.words(lang)["title"]
            time = page.locator("[data-testid=fact-retired_at] time")
            assert time.count() == 1
            qr = page.locator("article svg.qr")
            qr_box = qr.bounding_box()
            assert qr.is_visible() and qr_box is not None and qr_box["width"] >= 100
            assert abs(qr_box["width"] - qr_box["height"]) < 1
            assert page.locator("[data-testid=verify-url]").get_attribute("href") == live.base_url + cert["url"]
            # the PDF follows the page's language (the same cookie)
            pdf = page.request.get(live.base_url + page.locator("[data-testid=pdf]").get_attribute("href"))
            assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
            paper = pdf_text(pdf.body())
            assert certificates.words(lang)["title"] in paper and paper.count(purpose) == 1
            # the batch link (its id holds an "@", escaped in the address) opens the batch
            page.locator("article a[href^='/registry/batches/']").first.click()
            page.wait_for_url("**/registry/batches/**")
            assert cert["blocks"][0]["batch_id"] in page.locator("main h1").inner_text()
            w.check()
    finally:
        w.close()
    assert not problems, "\n".join(problems)
