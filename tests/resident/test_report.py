"""The annual carbon report (年度碳账单): its figures through the real store on SQLite and PostgreSQL,
and its share image — the lines the poster draws (a pure function: the masked name, never the whole
one) and the PNG Pillow makes of them."""

from __future__ import annotations

import io
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from tanhui.domain import engagement as rules
from tanhui.errors import InvalidInput
from tanhui.services import accounts, annual, engagement, statements
from tanhui.store import Store
from tanhui.web import poster
from tests.market.helpers import open_shop
from tests.web.helpers import build_city


def test_longest_run_and_the_years_one_may_ask_for() -> None:
    days = [date(2026, 1, d).toordinal() for d in (1, 2, 3, 7, 8, 9, 10, 20)]
    assert rules.longest_run(days) == 4 and rules.longest_run([]) == 0 and rules.longest_run([5, 5, 6]) == 2
    today = date(2026, 6, 1)
    assert annual.check_year(None, today) == 2026 and annual.check_year("2024", today) == 2024
    for bad in ("2027", "1999", "26", "２０２６", "2026.0", "-2026"):
        with pytest.raises(InvalidInput):
            annual.check_year(bad, today)


def test_a_year_of_behaviours_by_scenario_and_month_with_its_rank(store: Store, scheme_id: str, tmp_path: Path) -> None:
    city = build_city(store, tmp_path, scheme_id, people=3, days=4)
    annual.forget()
    now = datetime.now(UTC)
    reports = [annual.annual_report(store, p, now=now) for p in city.people]
    earlier = [annual.annual_report(store, p, now.year - 1, now=now) for p in city.people]  # the first days of January
    for person, report, before in zip(city.people, reports, earlier, strict=True):
        summary = accounts.summary(store, person)
        assert report.carbon_g + before.carbon_g == summary["carbon_g_total"]
        assert report.events + before.events == summary["events_credited"]
        assert sum(g for _m, _n, g in report.by_month) == report.carbon_g == sum(g for _s, _n, g in report.by_scenario)
        assert [m for m, _n, _g in report.by_month] == list(range(1, 13))
        assert report.points_earned + before.points_earned == statements.statement(store, person).totals.earned
        assert report.display_name is None or report.display_name.startswith("测试用户")
        assert report.years[0] == now.year
    ranked = sorted(reports, key=lambda r: -r.carbon_g)
    assert ranked[0].standing is not None and ranked[0].standing.rank == 1 and ranked[0].standing.people == 3
    assert ranked[-1].standing is not None and ranked[-1].standing.ahead_of == 0
    with pytest.raises(InvalidInput):
        annual.annual_report(store, city.people[0], now.year + 1, now=now)
    annual.forget()  # a page does not wait for the first count: it says the place is being counted
    top = city.people[reports.index(ranked[0])]
    first = annual.annual_report(store, top, now=now, wait=False)
    assert (first.standing is None and first.counting) or first.standing == ranked[0].standing
    for _try in range(200):
        later = annual.annual_report(store, top, now=now, wait=False)
        if later.standing is not None:
            break
        time.sleep(0.05)
    assert later.standing == ranked[0].standing and not later.counting


def test_the_best_streak_is_counted_inside_the_year(store: Store, scheme_id: str) -> None:
    shop = open_shop(store, scheme_id, people=1, points_each=0)
    person = shop.people[0]
    start = datetime(2025, 12, 29, 2, tzinfo=UTC)  # 29, 30, 31 Dec, then 1, 2 Jan
    for d in range(5):
        engagement.checkin(store, person, now=start + timedelta(days=d))
    now = datetime(2026, 3, 1, tzinfo=UTC)
    this_year, last_year = annual.annual_report(store, person, 2026, now=now), annual.annual_report(store, person, 2025, now=now)
    assert (this_year.best_streak, this_year.checkin_days) == (2, 2)  # the stored streak says 5 by then
    assert (last_year.best_streak, last_year.checkin_days) == (3, 3)
    assert (
        this_year.points_earned == 2 and this_year.carbon_g == 0 and this_year.standing is None and this_year.best_month is None
    )


def _report(name: str | None) -> annual.AnnualReport:
    return annual.AnnualReport(
        year=2026,
        scheme_name="绿芽积分",
        display_name=name,
        carbon_g=123_456,
        events=321,
        active_days=150,
        first_day=date(2026, 1, 3),
        by_scenario=[("bus_ride", 200, 90_000), ("walking", 121, 33_456)],
        by_month=[(m, 10, 10_000 if m != 3 else 23_456) for m in range(1, 13)],
        checkin_days=90,
        best_streak=21,
        points_earned=4_321,
        standing=annual.Standing(rank=12, people=600, ahead_of=588),
        years=[2026, 2025],
    )


def test_the_poster_shows_a_masked_name_and_never_the_whole_one() -> None:
    lines = poster.poster_lines(_report("张三丰"), "zh-CN")
    text = "\n".join(line.text for line in lines)
    assert "张**的低碳一年" in text and "张三丰" not in text and "三丰" not in text
    assert "我的 2026 年度碳账单" in text and "123.456 kg" in text and "最常选择：公交出行 200 次" in text
    assert "最绿色的月份：3 月" in text and "超过了今年 98% 的减排者" in text and "≈ 少开车 453.9 公里" in text
    english = "\n".join(line.text for line in poster.poster_lines(_report("Li Lei"), "en"))
    assert "L**'s low-carbon year" in english and "Li Lei" not in english and "Greenest month: March" in english
    nameless = "\n".join(line.text for line in poster.poster_lines(_report(None), "zh-CN"))
    assert "一位低碳居民的低碳一年" in nameless
    assert all(0 <= line.y < poster.HEIGHT for line in lines)


def test_the_poster_png_is_the_size_and_not_blank() -> None:
    png = poster.render(poster.poster_lines(_report("张三丰"), "zh-CN"))
    image = Image.open(io.BytesIO(png))
    image.load()
    assert image.format == "PNG" and image.size == (poster.WIDTH, poster.HEIGHT)
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 200  # gradient, card and anti-aliased text, not one flat colour
    # text was drawn: the white card carries dark pixels where the figures are
    card = image.convert("L").crop((60, poster.CARD_TOP + 20, poster.WIDTH - 60, poster.HIGHLIGHTS_TOP - 10))
    low, high = card.getextrema()
    assert low < 128 and high == 255
    assert poster.render(poster.poster_lines(_report("张三丰"), "zh-CN")) == png  # the same lines, the same picture


def test_a_machine_without_the_cjk_font_is_told_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TANHUI_CJK_FONT", str(tmp_path / "none.ttc"))
    monkeypatch.setattr(poster, "FONT_FILES", (str(tmp_path / "NotoSansCJK-{weight}.ttc"),))
    monkeypatch.setattr(poster, "FONT_GLOB", str(tmp_path / "**" / "NotoSansCJK*-{weight}.tt[co]"))
    with pytest.raises(poster.FontMissing) as missing:
        poster.find_font()
    assert missing.value.http_status == 503 and "fonts-noto-cjk" in missing.value.message("zh-CN")
    monkeypatch.delenv("TANHUI_CJK_FONT")
    monkeypatch.undo()
    assert poster.find_font().is_file() and poster.find_font("Bold").is_file()
