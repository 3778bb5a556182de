"""A small city built through the real services (scheme file, partners, consents, ingest) for web tests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tanhui.services import consent, identity, ingest, organisations, scheme_file
from tanhui.services.ingest import find_partner
from tanhui.store import Store

LUZHOU = Path(__file__).resolve().parents[2] / "src" / "tanhui" / "sim" / "luzhou.toml"


@dataclass
class City:
    scheme_id: str
    partners: dict[str, Any]
    people: list[int] = field(default_factory=list)
    orgs: list[Any] = field(default_factory=list)


def scheme_text(scheme_id: str, name: str = "绿芽积分", timezone: str = "Asia/Shanghai") -> str:
    text = LUZHOU.read_text(encoding="utf-8")
    text = text.replace('id = "luzhou"', f'id = "{scheme_id}"', 1).replace('name = "绿芽积分"', f'name = "{name}"', 1)
    return text.replace('timezone = "Asia/Shanghai"', f'timezone = "{timezone}"', 1)


def _back(now: datetime) -> timedelta:
    """How long before now the newest reports happened: an hour, or less in the first two hours of the
    scheme's day, so that day d's reports fall on the local day today - d whatever the hour a test runs
    (at 00:30 on the 1st an hour back would put today's into last month, and a month's board would be
    empty)."""
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    since_midnight = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
    return min(timedelta(hours=1), since_midnight / 2)


def build_city(
    store: Store,
    tmp: Path,
    scheme_id: str = "luzhou",
    people: int = 3,
    days: int = 5,
    name: str = "绿芽积分",
    timezone: str = "Asia/Shanghai",
) -> City:
    path = tmp / f"{scheme_id}.toml"
    path.write_text(scheme_text(scheme_id, name, timezone), encoding="utf-8")
    report = scheme_file.apply(store, path)
    partners = {p["name"]: find_partner(store, p["partner_id"]) for p in report.partners_created}
    city = City(scheme_id, partners)
    bus, walk, plate = partners["泸州公交"], partners["健步走APP"], partners["光盘餐厅联盟"]
    now = datetime.now(UTC)
    for i in range(people):
        ref = f"{scheme_id}-u{i}"
        _, view = consent.grant(
            store,
            bus,
            f"n-{scheme_id}-{i}-a",
            {
                "user_ref": ref,
                "scopes": ["behaviour:report"],
                "granted_at": (now - timedelta(days=10)).isoformat(),
                "display_name": f"测试用户{i}",
            },
        )
        account_id = int(view["account_id"])
        for partner, tag in ((walk, "b"), (plate, "c")):
            code = consent.new_binding_code(store, account_id)["code"]
            consent.grant(
                store,
                partner,
                f"n-{scheme_id}-{i}-{tag}",
                {
                    "user_ref": ref,
                    "scopes": ["behaviour:report"],
                    "granted_at": (now - timedelta(days=10)).isoformat(),
                    "binding_code": code,
                },
            )
        city.people.append(account_id)
        for d in range(days):
            when = now - timedelta(days=d) - _back(now)
            ingest.ingest_events(
                store,
                bus,
                [
                    {
                        "event_id": f"{ref}-bus-{d}-{k}",
                        "user_ref": ref,
                        "scenario": "bus_ride",
                        "occurred_at": when.isoformat(),
                        "data": {"distance_km": "6.5", "trip_id": f"{ref}-{d}-{k}"},
                    }
                    for k in range(2)
                ],
            )
            ingest.ingest_events(
                store,
                walk,
                [
                    {
                        "event_id": f"{ref}-walk-{d}",
                        "user_ref": ref,
                        "scenario": "walking",
                        "occurred_at": when.isoformat(),
                        "data": {"steps": 8000 + 500 * i},
                    },
                    {
                        "event_id": f"{ref}-walk-bad-{d}",
                        "user_ref": ref,
                        "scenario": "walking",
                        "occurred_at": when.isoformat(),
                        "data": {"steps": 250000},
                    },
                ],
            )
            ingest.ingest_events(
                store,
                plate,
                [
                    {
                        "event_id": f"{ref}-plate-{d}",
                        "user_ref": ref,
                        "scenario": "clean_plate",
                        "occurred_at": when.isoformat(),
                        "data": {"meal": "lunch", "order_id": f"{ref}-meal-{d}"},
                    },
                ],
            )
    city.orgs = [
        organisations.create(store, scheme_id, "泸州老窖股份有限公司", "company"),
        organisations.create(store, scheme_id, "泸州市第一中学", "school"),
    ]
    for n, account_id in enumerate(city.people):
        organisations.join(store, account_id, organisations.invite_code(store, city.orgs[n % 2].public_id, scheme_id))
    return city


def web_login(store: Store, account_id: int) -> str:
    return identity.login_link(store, account_id)


def operator(
    store: Store, scheme_id: str, username: str, role: str = "operator", password: str = "correct-horse-9"
) -> tuple[str, str]:
    identity.create_operator(store, scheme_id, username, password, role)
    return username, password


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def fund(store: Store, scheme_id: str, account_id: int, points: int) -> None:
    """A reward from the scheme so a test person can afford anything in the catalog."""
    from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_ISSUANCE
    from tanhui.services import ledger

    with store.unit_of_work(write=False) as uow:
        issuance = uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_ISSUANCE).id
    mine = ledger.holdings(store, account_id).points_account_id
    ledger.transfer(
        store, scheme_id, [(issuance, mine, points)], kind="reward", idempotency_key=f"web-test-fund-{account_id}-{points}"
    )


def coupon_item(store: Store, scheme_id: str) -> str:
    """The cheapest coupon of the catalog (fulfilled at once, with a code)."""
    from tanhui.services import market

    coupons = [i for i in market.list_items(store, scheme_id, only_active=True) if i.kind == "coupon" and i.stock > 0]
    return min(coupons, key=lambda i: i.points_price).public_id
