from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select

from tanhui.domain.ledger import GENESIS_HASH
from tanhui.domain.schemes import Scheme
from tanhui.store.repositories.base import Repository
from tanhui.store.schema import journal_chains, schemes


def chain_id(scheme_id: str, shard: int) -> str:
    return f"{scheme_id}/{shard}"


class SchemeRepository(Repository):
    def add(self, scheme: Scheme, now: datetime) -> Scheme:
        self.conn.execute(
            insert(schemes).values(
                id=scheme.id, name=scheme.name, timezone=scheme.timezone, settings=dict(scheme.settings), created_at=now
            )
        )
        self.conn.execute(
            insert(journal_chains),
            [
                {"id": chain_id(scheme.id, shard), "scheme_id": scheme.id, "seq": 0, "head_hash": GENESIS_HASH, "updated_at": now}
                for shard in range(scheme.ledger_chains)
            ],
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
