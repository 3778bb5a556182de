"""Residents' pages over real HTTP (a live server on each engine): the points statement (积分明细), check-in
feedback and calendar, affordability in the market, the annual report (年度碳账单) and its share image."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from PIL import Image

from tanhui.services import annual, ledger, market, statements
from tanhui.store import Store
from tanhui.web import poster
from tanhui.web.render import grams_as_kg
from tests.web.helpers import build_city, coupon_item, csrf_of, fund, web_login
from tests.web.reading import PageText, instants, time_problems


@pytest.fixture
def town(live: Any, tmp_path: Path) -> Any:
    store = Store(live.database_url)
    try:
        city = build_city(store, tmp_path, "luzhou", people=2, days=3)
        for points in range(1, 46):  # enough postings for two pages of the statement
            fund(store, "luzhou", city.people[0], points)
        market.place_order(store, city.people[0], coupon_item(store, "luzhou"), 1, "http-1")
        yield live, store, city
    finally:
        store.dispose()


@contextmanager
def _person(live: Any, store: Store, account_id: int) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30) as client:
        page = client.get(web_login(store, account_id), follow_redirects=True)
        assert page.status_code == 200 and str(page.url).endswith("/me")
        yield client


def figure(html: str, testid: str) -> int:
    found = re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', html)
    assert found, f"no {testid} on the page"
    return int(found.group(1).replace(",", "").replace("−", "-").replace("+", ""))


def test_the_statement_shows_the_ledger_balance_pages_and_causes(town: Any) -> None:
    live, store, city = town
    person = city.people[0]
    with _person(live, store, person) as client:
        account = client.get("/me").text
        assert 'href="/me/points"' in account
        page = client.get("/me/points")
        assert page.status_code == 200 and "积分明细" in page.text
        balance = ledger.balance(store, ledger.holdings(store, person).points_account_id)
        assert figure(page.text, "balance") == figure(page.text, "total") == balance == figure(account, "points")
        shown = figure(page.text, "earned") + sum(  # the deductions print with their minus sign
            figure(page.text, k)
            for k in ("corrected", "redeemed", "held", "expired", "other")
            if f'data-testid="{k}"' in page.text
        )
        assert shown == balance  # the totals the page prints add up to the ledger's balance
        assert re.search(r'href="/me/events/\d+">低碳行为：', page.text) and 'href="/me/orders/ord_' in page.text
        read = PageText(page.text)  # every line's time is its entry's instant, in the scheme's zone
        assert not time_problems(read.times, " ".join(read.outside), ZoneInfo("Asia/Shanghai"), "zh-CN", "/me/points")
        stored = {x.at.replace(microsecond=0) for x in statements.statement(store, person).lines}
        assert instants(read.times) == stored and len(read.times) == statements.PAGE_SIZE
        # every line, page by page (50 a page), once; their amounts sum to the balance
        amounts: list[int] = []
        path: str | None = "/me/points"
        while path:
            html = client.get(path).text
            amounts += [int(a.replace(",", "")) for a in re.findall(r'data-testid="amount">([^<]+)<', html)]
            older = re.search(r'href="(/me/points\?cursor=\d+)" data-testid="older"', html)
            path = older.group(1) if older else None
        assert len(amounts) == statements.statement(store, person).totals.postings > statements.PAGE_SIZE
        assert sum(amounts) == balance
        client.get("/lang/en?next=/me/points")
        english = client.get("/me/points").text
        assert "Points statement" in english and "Low-carbon behaviour: " in english
        bad = client.get("/me/points?cursor=abc")
        assert bad.status_code == 422 and "<html" in bad.text
    anonymous = httpx.get(live.base_url + "/me/points", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_check_in_says_what_it_gave_and_the_calendar_shows_it(town: Any) -> None:
    live, store, city = town
    with _person(live, store, city.people[1]) as client:
        assert "签到成功" not in client.get("/me?checkin=new").text  # no check-in yet: nothing to announce
        csrf = csrf_of(client.get("/me").text)
        done = client.post("/me/checkin", data={"csrf": csrf, "back": "account"})
        assert done.status_code == 303 and done.headers["location"] == "/me?checkin=new"
        page = client.get(done.headers["location"]).text
        assert re.search(
            r'role="status">签到成功！已连续签到 1 天，今天获得 2 积分。再连续签到 6 天，可额外获得 10 积分。<', page
        )
        again = client.post("/me/checkin", data={"csrf": csrf, "back": "https://evil.example/"})
        assert again.headers["location"] == "/me?checkin=again"  # an address from the form is never followed
        assert "今天已经签到过了。" in client.get("/me?checkin=again").text
        calendar = client.get("/me/checkins").text
        assert calendar.count('data-testid="done"') == 1 and 'aria-current="date"' in calendar
        assert figure(calendar, "month-points") == 2 and "今日已签到" in calendar
        from_calendar = client.post("/me/checkin", data={"csrf": csrf, "back": "calendar"})
        assert from_calendar.headers["location"] == "/me/checkins?checkin=again"
        assert client.get("/me/checkins?month=2020-01").text.count('data-testid="done"') == 0
        for bad in ("2026-13", "26-01", "abc"):
            refused = client.get(f"/me/checkins?month={bad}")
            assert refused.status_code == 422 and "<html" in refused.text


def test_an_item_i_cannot_afford_has_its_button_disabled_with_the_reason(town: Any) -> None:
    live, store, city = town
    person = city.people[1]
    balance = ledger.balance(store, ledger.holdings(store, person).points_account_id)
    items = market.list_items(store, "luzhou", only_active=True)
    dear = next(i for i in items if i.points_price > balance and i.stock > 0)
    cheap = next(i for i in items if i.points_price <= balance and i.stock > 0)
    with _person(live, store, person) as client:
        listing = client.get("/market").text
        assert f"还差 {dear.points_price - balance:,} 积分" in listing and "积分足够，可兑换" in listing
        page = client.get(f"/market/items/{dear.public_id}").text
        assert re.search(r'data-testid="redeem" disabled aria-describedby="why"', page)
        assert f'data-testid="why">积分不足：还差 {dear.points_price - balance:,} 积分<' in page
        confirm = client.get(f"/market/items/{dear.public_id}/confirm?quantity=1").text
        assert re.search(r'data-testid="confirm" disabled', confirm)
        open_page = client.get(f"/market/items/{cheap.public_id}").text
        assert 'data-testid="redeem">' in open_page and 'data-testid="why"' not in open_page


def test_the_annual_report_and_its_share_image(town: Any) -> None:
    live, store, city = town
    person = city.people[0]
    annual.forget()
    report = annual.annual_report(store, person)
    with _person(live, store, person) as client:
        page = client.get("/me/report")
        for _try in range(100):  # the server counts the year's ranking in the background on its first request
            if 'data-testid="year-rank"' in page.text:
                break
            assert 'data-testid="year-rank-counting"' in page.text
            time.sleep(0.1)
            page = client.get("/me/report")
        assert page.status_code == 200 and f"我的 {report.year} 年度碳账单" in page.text
        assert report.standing is not None and figure(page.text, "year-rank") == report.standing.rank
        assert f'data-testid="year-kg">{grams_as_kg(report.carbon_g)} kg' in page.text
        assert figure(page.text, "year-events") == report.events and figure(page.text, "year-points") == report.points_earned
        assert 'href="#note-3"' in page.text and "假设" in page.text  # the equivalents with their sources
        assert "测试用户0" not in page.text and "测**" in page.text  # the page, too, masks the name
        image = client.get(f"/me/report/{report.year}.png")
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.headers["cache-control"].startswith("private")
        drawn = poster.poster_lines(report, "zh-CN")
        assert any(line.text == "测**的低碳一年" for line in drawn) and all("测试用户0" not in line.text for line in drawn)
        assert image.content == poster.render(drawn)  # the server drew exactly these lines
        decoded = Image.open(io.BytesIO(image.content))
        assert decoded.size == (poster.WIDTH, poster.HEIGHT)
        for bad in ("/me/report?year=1999", f"/me/report?year={report.year + 1}", "/me/report/20x6.png", "/me/report/2026.jpg"):
            refused = client.get(bad)
            assert refused.status_code == 422 and "<html" in refused.text, bad
        client.get("/lang/en?next=/me/report")
        assert f"My {report.year} carbon report" in client.get("/me/report").text
    assert httpx.get(live.base_url + "/me/report/2026.png").status_code == 303  # signed-in people only
