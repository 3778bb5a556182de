from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select

from tanhui.domain.schemes import Scheme
from tanhui.store.repositories.base import Repository
from tanhui.store.schema import schemes


def lane_name(scheme_id: str, lane: int) -> str:
    """A scheme's lane: its writers queue per lane; the report counters are kept per lane."""
    return f"{scheme_id}/{lane}"


def chain_name(scheme_id: str, pkey: int, lane: int) -> str:
    """A hash chain: one per (scheme, person key, lane), so each lives on one node of a distributed
    engine. (Chains named `scheme/lane` were written before person keys existed; they stay.)"""
    return f"{scheme_id}/{pkey}/{lane}"


class SchemeRepository(Repository):
    def add(self, scheme: Scheme, now: datetime) -> Scheme:
        self.conn.execute(
            insert(schemes).values(
                id=scheme.id, name=scheme.name, timezone=scheme.timezone, settings=dict(scheme.settings), created_at=now
            )
        )
        return Scheme(scheme.id, scheme.name, scheme.timezone, dict(scheme.settings), now)

    def get(self, scheme_id: str) -> Scheme | None:
        row = self.conn.execute(select(schemes).where(schemes.c.id == scheme_id)).first()
        return None if row is None else _scheme(row)

    def update(self, scheme_id: str, name: str, settings: dict[str, Any]) -> None:
        from sqlalchemy import update

        self.conn.execute(update(schemes).where(schemes.c.id == scheme_id).values(name=name, settings=settings))

    def list(self) -> list[Scheme]:
        return [_scheme(row) for row in self.conn.execute(select(schemes).order_by(schemes.c.id))]


def _scheme(row: Row[Any]) -> Scheme:
    return Scheme(row.id, row.name, row.timezone, row.settings, row.created_at)
