from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update

from tanhui.store.repositories.base import Repository
from tanhui.store.schema import partner_nonces, partner_secrets, partners


@dataclass(frozen=True, slots=True)
class PartnerRow:
    pk: int
    id: str
    scheme_id: str
    name: str
    scenarios: tuple[str, ...]
    status: str
    created_at: datetime

    def to_dict(self) -> dict[str, object]:
        return {
            "partner_id": self.id,
            "scheme_id": self.scheme_id,
            "name": self.name,
            "scenarios": list(self.scenarios),
            "status": self.status,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """A partner secret as stored: sealed by the key ``key_id`` (None: plaintext written before
    secrets were sealed, until the start-up step seals it)."""

    id: int
    partner_id: str
    key_id: str | None
    secret: str


def _partner(row: Row[Any]) -> PartnerRow:
    return PartnerRow(row.pk, row.id, row.scheme_id, row.name, tuple(row.scenarios), row.status, row.created_at)


class PartnerRepository(Repository):
    def add(
        self, partner_id: str, scheme_id: str, name: str, scenarios: list[str], key_id: str, sealed: str, now: datetime
    ) -> PartnerRow:
        """A partner and its first secret, already sealed by the caller (``key_id``, ``sealed``)."""
        pk = self.conn.execute(
            insert(partners)
            .values(id=partner_id, scheme_id=scheme_id, name=name, scenarios=scenarios, status="active", created_at=now)
            .returning(partners.c.pk)
        ).scalar_one()
        self.add_secret(int(pk), key_id, sealed, now)
        return PartnerRow(int(pk), partner_id, scheme_id, name, tuple(scenarios), "active", now)

    def get(self, partner_id: str) -> PartnerRow | None:
        row = self.conn.execute(select(partners).where(partners.c.id == partner_id)).first()
        return None if row is None else _partner(row)

    def list(self, scheme_id: str | None = None) -> list[PartnerRow]:
        query = select(partners).order_by(partners.c.scheme_id, partners.c.created_at, partners.c.pk)
        if scheme_id is not None:
            query = query.where(partners.c.scheme_id == scheme_id)
        return [_partner(row) for row in self.conn.execute(query)]

    def set_status(self, pk: int, status: str) -> None:
        self.conn.execute(update(partners).where(partners.c.pk == pk).values(status=status))

    def set_scenarios(self, pk: int, scenarios: builtins.list[str]) -> None:
        self.conn.execute(update(partners).where(partners.c.pk == pk).values(scenarios=scenarios))

    def active_secrets(self, pk: int) -> builtins.list[StoredSecret]:  # `list` here is the method above
        rows = self.conn.execute(
            select(partner_secrets.c.id, partners.c.id.label("partner_id"), partner_secrets.c.key_id, partner_secrets.c.secret)
            .join(partners, partners.c.pk == partner_secrets.c.partner_pk)
            .where(partner_secrets.c.partner_pk == pk, partner_secrets.c.retired_at.is_(None))
            .order_by(partner_secrets.c.id)
        )
        return [StoredSecret(*row) for row in rows]

    def add_secret(self, pk: int, key_id: str, sealed: str, now: datetime) -> None:
        self.conn.execute(insert(partner_secrets).values(partner_pk=pk, key_id=key_id, secret=sealed, created_at=now))

    def stored_secrets(self, *, not_key: str | None = None, lock: bool = False) -> builtins.list[StoredSecret]:
        """Every stored secret, retired ones too (for sealing and key rotation); ``not_key``: only those
        sealed by another key or not at all; ``lock``: held until the transaction ends."""
        query = (
            select(partner_secrets.c.id, partners.c.id.label("partner_id"), partner_secrets.c.key_id, partner_secrets.c.secret)
            .join(partners, partners.c.pk == partner_secrets.c.partner_pk)
            .order_by(partner_secrets.c.id)
        )
        if not_key is not None:
            query = query.where((partner_secrets.c.key_id != not_key) | partner_secrets.c.key_id.is_(None))
        if lock:
            query = self.dialect.for_update(query, of=partner_secrets)
        return [StoredSecret(*row) for row in self.conn.execute(query)]

    def set_sealed(self, secret_id: int, key_id: str, sealed: str) -> None:
        self.conn.execute(update(partner_secrets).where(partner_secrets.c.id == secret_id).values(key_id=key_id, secret=sealed))

    def secrets_by_key(self) -> dict[str | None, int]:
        """How many stored secrets each key sealed (None: not sealed yet)."""
        rows = self.conn.execute(select(partner_secrets.c.key_id, func.count()).group_by(partner_secrets.c.key_id))
        return {key_id: int(count) for key_id, count in rows}

    def retire_secrets_except_newest(self, pk: int, now: datetime) -> int:
        newest = self.conn.execute(
            select(partner_secrets.c.id)
            .where(partner_secrets.c.partner_pk == pk, partner_secrets.c.retired_at.is_(None))
            .order_by(partner_secrets.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if newest is None:
            return 0
        result = self.conn.execute(
            update(partner_secrets)
            .where(
                partner_secrets.c.partner_pk == pk,
                partner_secrets.c.retired_at.is_(None),
                partner_secrets.c.id != newest,
            )
            .values(retired_at=now)
            .returning(partner_secrets.c.id)
        )
        return len(result.all())

    def use_nonce(self, pk: int, nonce: str, now: datetime) -> bool:
        """Record a nonce; False when this partner already used it (a replayed request)."""
        # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT DO NOTHING here.
        inserted = self.conn.execute(
            self.dialect.insert_ignore(partner_nonces, ["partner_pk", "nonce"])
            .values(partner_pk=pk, nonce=nonce, seen_at=now)
            .returning(partner_nonces.c.nonce)
        ).first()
        return inserted is not None

    def forget_nonces_before(self, cutoff: datetime) -> int:
        deleted = self.conn.execute(
            delete(partner_nonces).where(partner_nonces.c.seen_at < cutoff).returning(partner_nonces.c.nonce)
        )
        return len(deleted.all())

    @staticmethod
    def nonce_cutoff(now: datetime, ttl_s: int) -> datetime:
        return now - timedelta(seconds=ttl_s)
