"""Organisations (enterprises, schools, communities): the rows; members come with their own issue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import insert, select, update

from tanhui.store.repositories.base import Repository
from tanhui.store.schema import organisations


class OrganisationDict(TypedDict):
    organisation_id: str  # the public id
    scheme_id: str
    name: str
    kind: str
    created_at: str  # ISO 8601


@dataclass(frozen=True, slots=True)
class OrganisationRow:
    id: int
    public_id: str
    scheme_id: str
    name: str
    kind: str
    created_at: datetime
    invite_code: str = ""  # people join with it (services/organisations.join); not in to_dict

    def to_dict(self) -> OrganisationDict:
        return {
            "organisation_id": self.public_id,
            "scheme_id": self.scheme_id,
            "name": self.name,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
        }


def _row(row: Any) -> OrganisationRow:
    return OrganisationRow(int(row.id), row.public_id, row.scheme_id, row.name, row.kind, row.created_at, row.invite_code)


class OrganisationRepository(Repository):
    def add(self, public_id: str, scheme_id: str, name: str, kind: str, invite_code: str, now: datetime) -> OrganisationRow:
        new_id = self.conn.execute(
            insert(organisations)
            .values(public_id=public_id, scheme_id=scheme_id, name=name, kind=kind, invite_code=invite_code, created_at=now)
            .returning(organisations.c.id)
        ).scalar_one()
        return OrganisationRow(int(new_id), public_id, scheme_id, name, kind, now, invite_code)

    def get(self, public_id: str) -> OrganisationRow | None:
        row = self.conn.execute(select(organisations).where(organisations.c.public_id == public_id)).first()
        return None if row is None else _row(row)

    def by_ids(self, ids: set[int]) -> dict[int, OrganisationRow]:
        if not ids:
            return {}
        rows = self.conn.execute(select(organisations).where(organisations.c.id.in_(sorted(ids))))
        return {int(r.id): _row(r) for r in rows}

    def list(self, scheme_id: str | None = None) -> list[OrganisationRow]:
        query = select(organisations).order_by(organisations.c.id)
        if scheme_id is not None:
            query = query.where(organisations.c.scheme_id == scheme_id)
        return [_row(r) for r in self.conn.execute(query)]

    def set_invite_code(self, organisation_pk: int, invite_code: str) -> None:
        self.conn.execute(update(organisations).where(organisations.c.id == organisation_pk).values(invite_code=invite_code))
