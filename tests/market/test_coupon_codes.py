"""Finding 11 of issue 18: Tanhui's own coupon codes were a function of the order id
(`TH-{id[4:12]}-{n}-{crc32(id:n)}`), so anyone who saw an order id (the orders page, an export) could
compute its valid codes offline. They are now drawn at random (secrets), 16 characters from an
alphabet without look-alikes, stored on the order like a merchant's codes."""

from __future__ import annotations

import re
import secrets
import zlib
from collections import Counter
from itertools import count

import pytest

from tanhui.domain import market as rules
from tanhui.services import market
from tanhui.store import Store
from tests.market.helpers import item, open_shop

CODE = re.compile(r"^TH-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}(-[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{4}){3}$")


def old_formula(order_id: str, index: int) -> str:
    digest = zlib.crc32(f"{order_id}:{index}".encode()) & 0xFFFFFFFF
    return f"TH-{order_id[4:12].upper()}-{index + 1}-{digest:08X}"


def test_platform_codes_are_random_not_derived_from_the_order(
    store: Store, scheme_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = open_shop(store, scheme_id, people=2)
    voucher = item(store, scheme_id, stock=10)  # no merchant pool: Tanhui's own codes
    orders = [market.place_order(store, shop.people[n], voucher.public_id, 2 + n, f"k{n}")[1] for n in range(2)]
    codes = [code for o in orders for code in o["coupon_codes"]]
    assert len(codes) == 5 and len(set(codes)) == 5
    assert all(CODE.match(c) for c in codes), codes
    for o in orders:
        fragment = o["order_id"][4:12].upper()
        assert not any(fragment in c for c in codes)
        assert not {old_formula(o["order_id"], i) for i in range(5)} & set(codes)  # the forgeable code is not valid
    # stored: the order answers the same codes later
    again = {o["order_id"]: o["coupon_codes"] for o in market.orders_of(store, shop.people[0])}
    assert again[orders[0]["order_id"]] == orders[0]["coupon_codes"]

    # the codes come from the random source only: with a fixed source, two orders get the same codes
    monkeypatch.setattr(market.random_secrets, "randbelow", lambda n: 7 % n)
    fixed = [market.place_order(store, shop.people[1], voucher.public_id, 1, f"fixed-{n}")[1]["coupon_codes"] for n in range(2)]
    assert fixed[0] == fixed[1] == [rules.platform_code(lambda n: 7 % n)]


def test_platform_code_uses_the_whole_alphabet_and_does_not_repeat() -> None:
    drawn = [rules.platform_code(secrets.randbelow) for _ in range(20_000)]
    assert len(set(drawn)) == len(drawn)
    assert all(CODE.match(c) for c in drawn[:1000])
    letters = Counter(ch for c in drawn for ch in c.replace("TH-", "").replace("-", ""))
    assert set(letters) == set(rules.CODE_ALPHABET)
    assert len(rules.CODE_ALPHABET) ** rules.CODE_LENGTH > 2**78  # about 79 bits
    sequence = count()
    assert rules.platform_code(lambda n: next(sequence) % n) == "TH-2345-6789-ABCD-EFGH"  # the domain only maps draws
