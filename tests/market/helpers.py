"""A scheme with people holding points and a small catalog, built through the real services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_ISSUANCE
from tanhui.services import accounts, ledger, market, schemes
from tanhui.store import Store


@dataclass
class Shop:
    scheme_id: str
    people: list[int]  # account ids
    points_accounts: list[int]
    issuance: int


def open_shop(
    store: Store, scheme_id: str, people: int = 2, points_each: int = 1000, settings: dict[str, Any] | None = None
) -> Shop:
    schemes.create_scheme(store, scheme_id, "商城测试", settings=settings)
    with store.unit_of_work(write=False) as uow:
        issuance = uow.ledger.system_account(scheme_id, ASSET_POINTS, SYSTEM_ISSUANCE).id
    ids, points = [], []
    for _ in range(people):
        account_id = accounts.open_account(store, scheme_id)
        points_account = ledger.holdings(store, account_id).points_account_id
        if points_each:
            ledger.transfer(
                store, scheme_id, [(issuance, points_account, points_each)], kind="reward", idempotency_key=f"fund-{account_id}"
            )
        ids.append(account_id)
        points.append(points_account)
    return Shop(scheme_id, ids, points, issuance)


def item(store: Store, scheme_id: str, **overrides: Any) -> Any:
    fields: dict[str, Any] = {
        "kind": "coupon",
        "title_zh": "咖啡券",
        "title_en": "Coffee voucher",
        "points_price": 100,
        "stock": 10,
    }
    fields.update(overrides)
    return market.add_item(store, scheme_id, fields)
