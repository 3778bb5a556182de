"""No raw code on the Chinese pages (issue 17, item 9): statuses, kinds, categories, reasons, roles, audit
actions, methodology ids and their inputs and rules are shown by name. The codes are taken from the
code's own constants and the methodology library, not written out here, so a new status or methodology
is checked without touching this test. English pages name them too (order titles and statuses).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tanhui.domain import events as ev
from tanhui.domain import market as market_rules
from tanhui.services import audit, identity, market, organisations, partners, reports
from tanhui.services.methodologies import default_library
from tanhui.store import Store
from tanhui.web.i18n import ENUMS
from tests.web.helpers import csrf_of, fund
from tests.web.reading import PageText

ORDER_STATUSES = (
    market_rules.PENDING,
    market_rules.SHIPPED,
    market_rules.DELIVERED,
    market_rules.FULFILLED,
    market_rules.CANCELLED,
)
KEY_VALUE = re.compile(r"[A-Za-z_]+=|\[['\"]|\{['\"]")


def code_groups() -> dict[str, tuple[str, ...]]:
    """Each enumeration as the code defines it."""
    return {
        "order_status": ORDER_STATUSES,
        "item_kind": market_rules.KINDS,
        "org_kind": organisations.KINDS,
        "reason": ev.REASON_ORDER,
        "role": identity.ROLES,
        "action": tuple(audit.ACTIONS),
        "partner_status": tuple(partners.STATUS_ACTIONS),
        "actor": (audit.SYSTEM,),
        # literals in services/consent.py and services/market.py (no constant there): the labels' own keys
        "consent_status": tuple(ENUMS["consent_status"]),
        "item_status": tuple(ENUMS["item_status"]),
    }


def raw_codes(categories: set[str]) -> set[str]:
    library = default_library()
    codes = {c for group in code_groups().values() for c in group} | categories
    codes |= set(library.scenarios) | {m.ref for m in library} | {m.id for m in library}
    codes |= {r.name for m in library for r in m.plausibility} | {i.name for m in library for i in m.inputs}
    return codes


def test_every_code_of_the_code_has_a_name_in_both_languages() -> None:
    missing = [(group, code) for group, codes in code_groups().items() for code in codes if code not in ENUMS.get(group, {})]
    assert not missing, f"add them to web/i18n.py ENUMS: {missing}"
    for group in ENUMS.values():
        for code, (zh, en) in group.items():
            assert zh and en and en != code and not re.search(r"[A-Za-z]", zh), (code, zh, en)


def code_finder(codes: set[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(c) for c in sorted(codes, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9_@.-])(?:{alternatives})(?![A-Za-z0-9_@-])")


def raw_code_problems(text: str, finder: re.Pattern[str], where: str) -> list[str]:
    problems = []
    for found in finder.finditer(text):
        problems.append(f"{where}: raw code {found.group(0)!r} in …{text[max(0, found.start() - 30) : found.end() + 30]}…")
    found = KEY_VALUE.search(text)
    if found:
        problems.append(f"{where}: a key=value or a Python list in …{text[max(0, found.start() - 30) : found.end() + 30]}…")
    return problems


@pytest.fixture
def demo_city(live: Any) -> Iterator[tuple[Any, Store, dict[str, Any]]]:
    """The demo city itself (tanhui demo's builder, reporting over HTTP to the live server), small."""
    from rich.console import Console

    from tanhui.sim import demo

    demo.build(live.database_url, people_count=80, days=4, seed=5, base_url=live.base_url, console=Console(file=io.StringIO()))
    store = Store(live.database_url)
    try:
        person = int(reports.review(store, "luzhou", "implausible", limit=1)[0]["account_id"])
        fund(store, "luzhou", person, 20000)
        items = market.list_items(store, "luzhou", only_active=True)
        physical = sorted((i for i in items if i.kind == "physical" and i.stock > 0), key=lambda i: i.points_price)
        coupon = min((i for i in items if i.kind == "coupon" and i.stock > 0), key=lambda i: i.points_price)
        market.place_order(store, person, coupon.public_id, 1, "raw-codes-coupon")
        _, shipped = market.place_order(store, person, physical[0].public_id, 1, "raw-codes-shipped")
        market.ship_order(store, shipped["order_id"], actor="operator:raw-codes")
        market.place_order(store, person, physical[1].public_id, 1, "raw-codes-pending")
        identity.create_operator(store, "luzhou", "ops-codes", "correct-horse-9", "operator")
        categories = {i.category for i in items}
        yield live, store, {"person": person, "categories": categories, "items": items}
    finally:
        store.dispose()


def person_paths(store: Store, person: int, categories: set[str], items: list[Any], read: Callable[[str], str]) -> list[str]:
    history = read("/me/history")
    event = re.search(r"/me/events/(\d+)", history)
    return [
        "/me",
        *([f"/me/events/{event.group(1)}"] if event else []),
        "/market",
        *[f"/market?category={c}" for c in sorted(categories)],
        f"/market/items/{items[0].public_id}",
        "/me/orders",
        "/orgs",
        "/me/points",
        "/me/checkins",
        "/me/report",
        "/me/sources",
        "/me/badges",
        *[f"/board?period={p}" for p in ("week", "month", "all")],
        *[f"/orgs/{o['organisation_id']}?period={p}" for o in organisations.of_account(store, person) for p in ("week", "all")],
    ]


def operator_paths(store: Store) -> list[str]:
    base = "/admin/schemes/luzhou"
    org = organisations.scheme_board(store, "luzhou")[0].key
    return [
        base,
        f"{base}/review",
        *[f"{base}/review?reason={r}" for r in reports.REVIEW_REASONS],
        f"{base}/catalog",
        f"{base}/orders",
        *[f"{base}/orders?status={s}" for s in ORDER_STATUSES],
        f"{base}/organisations",
        f"{base}/organisations/{org}",
        f"{base}/audit",
        f"{base}/audit?action=market.ship",
    ]


@contextmanager
def _signed_in(live: Any, store: Store, person: int | None, lang: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=30, cookies={"lang": lang}) as client:
        if person is None:
            csrf = csrf_of(client.get("/admin/login").text)
            done = client.post("/admin/login", data={"csrf": csrf, "username": "ops-codes", "password": "correct-horse-9"})
            assert done.status_code == 303
        else:
            assert client.get(identity.login_link(store, person), follow_redirects=True).status_code == 200
        yield client


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.slow  # builds a small demo city
def test_no_raw_code_on_the_chinese_pages_of_the_demo(demo_city: Any) -> None:
    live, store, d = demo_city
    finder = code_finder(raw_codes(d["categories"]))
    problems: list[str] = []
    crawled = 0
    for who in (d["person"], None):
        with _signed_in(live, store, who, "zh-CN") as client:

            def read(path: str, client: httpx.Client = client) -> str:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                return PageText(response.text).text

            paths = person_paths(store, d["person"], d["categories"], d["items"], read) if who else operator_paths(store)
            for path in (["/me/history"] if who else []) + paths:
                problems += raw_code_problems(read(path), finder, path)
                crawled += 1
    assert crawled > 30
    assert not problems, "\n".join(problems[:40])


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
@pytest.mark.slow  # builds a small demo city
def test_english_orders_show_english_titles_and_named_statuses(demo_city: Any) -> None:
    live, store, d = demo_city
    english = {i.public_id: i.title_en for i in d["items"] if i.title_en}
    with _signed_in(live, store, d["person"], "en") as client:
        html = client.get("/me/orders").text
    shown = re.findall(
        r'<h2><a href="/me/orders/[^"]+">([^<]+)</a> <span class="status (\w+)" data-testid="status">([^<]+)<', html
    )
    assert len(shown) >= 3
    mine = {o["order_id"]: o for o in market.orders_of(store, d["person"])}
    assert {status for _t, status, _l in shown} >= {"pending", "shipped", "fulfilled"}
    for title, status, words in shown:
        assert words == ENUMS["order_status"][status][1]
        assert title in {english.get(o["item_id"]) for o in mine.values()}, title
