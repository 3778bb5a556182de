"""Creating and listing schemes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tanhui.domain.schemes import DEFAULT_TIMEZONE, Scheme, new_scheme
from tanhui.errors import Conflict, NotFound
from tanhui.services import audit
from tanhui.services.clock import utcnow
from tanhui.store import Store
from tanhui.store.errors import UniqueViolation


def create_scheme(
    store: Store,
    scheme_id: str,
    name: str,
    timezone: str = DEFAULT_TIMEZONE,
    settings: dict[str, Any] | None = None,
    now: datetime | None = None,
    *,
    actor: str = "system",
) -> Scheme:
    """A scheme with its system ledger accounts and its hash chains, in one transaction."""
    scheme = new_scheme(scheme_id, name, timezone, settings)
    store.require_initialised()
    now = now or utcnow()
    try:
        with store.unit_of_work() as uow:
            if uow.schemes.get(scheme.id) is not None:
                raise Conflict("scheme_exists", scheme_id=scheme.id)
            created = uow.schemes.add(scheme, now)
            uow.ledger.create_system_accounts(scheme.id)
            audit.record(uow, actor, "scheme.create", scheme.id, {"timezone": scheme.timezone}, scheme.id, now=now)
    except UniqueViolation:
        raise Conflict("scheme_exists", scheme_id=scheme.id) from None
    return created


def list_schemes(store: Store) -> list[Scheme]:
    store.require_initialised()
    with store.unit_of_work(write=False) as uow:
        return uow.schemes.list()


def get_scheme(store: Store, scheme_id: str) -> Scheme:
    store.require_initialised()
    with store.unit_of_work(write=False) as uow:
        scheme = uow.schemes.get(scheme_id)
    if scheme is None:
        raise NotFound("scheme_not_found", scheme_id=scheme_id)
    return scheme
