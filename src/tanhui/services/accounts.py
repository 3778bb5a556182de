"""Opening carbon accounts for people (and, later, organisations)."""

from __future__ import annotations

from datetime import datetime

from tanhui.errors import NotFound
from tanhui.services.clock import utcnow
from tanhui.store import Store


def open_account(
    store: Store, scheme_id: str, *, kind: str = "person", display_name: str | None = None, now: datetime | None = None
) -> int:
    with store.unit_of_work() as uow:
        if uow.schemes.get(scheme_id) is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        return uow.accounts.open(scheme_id, now or utcnow(), kind=kind, display_name=display_name)
