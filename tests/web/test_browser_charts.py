"""Chart text keeps a readable size at every width (issue 17, item 8), in Debian's Chromium.

Every text of every chart on the account page, the organisations' and an organisation's leaderboard and
the operator's dashboard, at a phone (390×844) and a desktop (1366×900) in Chinese and English, is drawn
at 11 to 16 on-screen pixels (its computed size times the scale of the svg it sits in) and lies wholly
inside its chart (no label cut off at an edge). Before, a chart was one viewBox scaled to its box: about
7 px on a phone and 25 px on a desktop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tanhui.store import Store
from tests.web.helpers import build_city, operator, web_login
from tests.web.test_browser import Watched, browser  # noqa: F401 (the fixture)

LANGS = ("zh-CN", "en")
# each chart text as [its text, on-screen size across, on-screen size up, how far it sticks out of its svg]
CHART_TEXTS = """() => [...document.querySelectorAll('svg.chart text')].map(t => {
  const m = t.getScreenCTM();
  const size = parseFloat(getComputedStyle(t).fontSize);
  const box = t.getBoundingClientRect(), svg = t.ownerSVGElement.getBoundingClientRect();
  const out = Math.max(svg.left - box.left, box.right - svg.right, svg.top - box.top, box.bottom - svg.bottom, 0);
  return [t.textContent, size * Math.hypot(m.a, m.b), size * Math.hypot(m.c, m.d), out];
})"""


@pytest.fixture
def chart_city(live: Any, tmp_path: Path) -> Iterator[tuple[Any, Store, Any]]:
    store = Store(live.database_url)
    try:
        city = build_city(store, tmp_path, "luzhou", people=3, days=4)
        operator(store, "luzhou", "ops-charts")
        yield live, store, city
    finally:
        store.dispose()


def _chart_problems(w: Watched, where: str) -> tuple[int, list[str]]:
    texts = w.page.evaluate(CHART_TEXTS)
    problems = []
    for text, across, up, out in texts:
        if not (11 <= across <= 16 and 11 <= up <= 16):
            problems.append(f"{where}: {text!r} drawn at {across:.1f}×{up:.1f} px")
        if out > 1:
            problems.append(f"{where}: {text!r} sticks {out:.1f} px out of its chart")
    w.check()
    return len(texts), problems


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("viewport", ["phone", "desktop"])
@pytest.mark.slow  # a real browser
def test_chart_text_is_11_to_16_px_at_every_width(browser: Any, chart_city: Any, viewport: str) -> None:  # noqa: F811
    live, store, city = chart_city
    problems: list[str] = []
    person = Watched(browser, viewport, live.base_url)
    try:
        person.go(web_login(store, city.people[0]))
        person.go("/orgs")
        org = person.page.locator("a[href^='/orgs/org_']").first.get_attribute("href")
        assert org
        for lang in LANGS:
            for path in ("/me", "/orgs", org):
                person.go(f"/lang/{lang}?next={path}")
                count, found = _chart_problems(person, f"{viewport} {lang} {path}")
                assert count >= 3, f"{path}: only {count} chart texts"
                problems += found
    finally:
        person.close()
    ops = Watched(browser, viewport, live.base_url)
    try:
        ops.go("/admin/login")
        ops.page.fill("#username", "ops-charts")
        ops.page.fill("#password", "correct-horse-9")
        ops.page.click("button[type=submit]")
        ops.page.wait_for_url(re.compile(r".*/admin/schemes/luzhou$"))
        for lang in LANGS:
            ops.go(f"/lang/{lang}?next=/admin/schemes/luzhou")
            count, found = _chart_problems(ops, f"{viewport} {lang} dashboard")
            assert count >= 20, f"the dashboard: only {count} chart texts"
            problems += found
    finally:
        ops.close()
    assert not problems, "\n".join(problems)
