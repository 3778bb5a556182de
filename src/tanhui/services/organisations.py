"""Organisations: enterprises, schools, communities, public bodies and groups within a scheme.

They hold registry credits (docs/registry.md) and, later, members and team totals.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from tanhui.domain.schemes import validate_name
from tanhui.errors import InvalidInput, NotFound
from tanhui.services.clock import utcnow
from tanhui.store import Store
from tanhui.store.repositories.organisations import OrganisationRow
from tanhui.store.uow import UnitOfWork

KINDS = ("company", "school", "community", "government", "group")


def create(store: Store, scheme_id: str, name: str, kind: str = "company", now: datetime | None = None) -> OrganisationRow:
    if kind not in KINDS:
        raise InvalidInput("invalid_organisation_kind", details={"field": "kind"}, kind=kind, kinds=", ".join(KINDS))
    cleaned = validate_name(name)
    store.require_initialised()
    with store.unit_of_work() as uow:
        if uow.schemes.get(scheme_id) is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        return uow.organisations.add(
            "org_" + secrets.token_hex(8), scheme_id, cleaned, kind, secrets.token_hex(8), now or utcnow()
        )


def list_(store: Store, scheme_id: str | None = None) -> list[OrganisationRow]:
    store.require_initialised()
    with store.unit_of_work(write=False) as uow:
        return uow.organisations.list(scheme_id)


def get_in(uow: UnitOfWork, public_id: str, scheme_id: str | None = None) -> OrganisationRow:
    """The organisation, refused as not found when it belongs to another scheme."""
    found = uow.organisations.get(public_id)
    if found is None or (scheme_id is not None and found.scheme_id != scheme_id):
        raise NotFound("organisation_not_found", organisation_id=public_id)
    return found
