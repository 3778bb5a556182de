"""Granting a withdrawn consent again from the account page (issue 17): a new consent on the same link,
the withdrawal kept in the history; only the person's own, never for a disabled partner."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanhui.errors import Conflict, Forbidden, NotFound
from tanhui.services import consent, partners
from tanhui.services.principal import Principal
from tanhui.store import Store
from tests.web.helpers import build_city


def test_a_withdrawn_consent_is_granted_again_as_a_new_one(store: Store, tmp_path: Path, scheme_id: str) -> None:
    city = build_city(store, tmp_path, scheme_id, people=2, days=1)
    me, other = Principal(city.people[0]), Principal(city.people[1])
    walk = next(c for c in consent.consents_of(store, me) if c["partner_id"] == city.partners["健步走APP"].id)
    consent.revoke_by_person(store, me, walk["consent_id"])
    again = consent.grant_again_by_person(store, me, walk["consent_id"])
    assert again["status"] == "active" and again["consent_id"] != walk["consent_id"]
    assert consent.grant_again_by_person(store, me, walk["consent_id"]) == again  # twice: the same, still one
    mine = [c for c in consent.consents_of(store, me) if c["partner_id"] == walk["partner_id"]]
    assert [c["status"] for c in mine] == ["revoked", "active"]  # the withdrawal stays in the history
    with pytest.raises(NotFound):
        consent.grant_again_by_person(store, other, walk["consent_id"])  # another person's
    bus = city.partners["泸州公交"]
    scoped = Principal(me.account_id, partner_pk=bus.pk)
    with pytest.raises(Forbidden):
        consent.grant_again_by_person(store, scoped, walk["consent_id"])  # a partner's session, another partner
    consent.revoke_by_person(store, me, again["consent_id"])
    partners.set_status(store, walk["partner_id"], "disabled", actor="operator:test")
    with pytest.raises(Conflict):
        consent.grant_again_by_person(store, me, walk["consent_id"])
