"""Cursors are ASCII digits that fit a BIGINT: `str.isdigit` also says yes to '³' and '١٢', which `int`
then refused with a 500 (the OpenAPI fuzz found `GET /v1/me/events?cursor=³`)."""

from __future__ import annotations

import pytest

from tanhui.errors import InvalidInput
from tanhui.services import accounts, schemes
from tanhui.services.principal import Principal
from tanhui.store import Store


def test_a_cursor_that_is_not_ascii_digits_within_a_bigint_is_bad_input(store: Store, scheme_id: str) -> None:
    schemes.create_scheme(store, scheme_id, "游标")
    account_id = accounts.open_account(store, scheme_id, display_name="x")
    for cursor in ("³", "١٢", "9" * 30, "abc", "-1"):
        with pytest.raises(InvalidInput):
            accounts.history(store, Principal(account_id), cursor)
    assert accounts.history(store, Principal(account_id), "12")["events"] == []
