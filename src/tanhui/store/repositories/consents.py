"""Partner links (user_ref -> account), consent records, binding codes and user tokens."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Join, Row, and_, insert, select, update

from tanhui.store.distribution import pkey_of
from tanhui.store.repositories.base import Repository
from tanhui.store.schema import binding_codes, consents, partner_links, partner_refs, partners, user_tokens


@dataclass(frozen=True, slots=True)
class ConsentRow:
    id: int
    public_id: str
    link_id: int
    partner_id: str
    user_ref: str | None
    account_id: int
    scopes: tuple[str, ...]
    purpose: str
    granted_at: datetime
    recorded_at: datetime
    granted_via: str
    revoked_at: datetime | None
    revoked_by: str | None
    partner_pk: int = 0  # the partner's internal key (what a partner-scoped session carries)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, object]:
        return {
            "consent_id": self.public_id,
            "account_id": str(self.account_id),
            "partner_id": self.partner_id,
            "user_ref": self.user_ref,
            "scopes": list(self.scopes),
            "purpose": self.purpose,
            "status": "active" if self.active else "revoked",
            "granted_at": self.granted_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


_CONSENT_COLUMNS = (
    consents,
    partner_links.c.user_ref,
    partner_links.c.account_id,
    partners.c.id.label("partner_id"),
    partners.c.pk.label("partner_pk"),
)


def _consent(r: Row[Any]) -> ConsentRow:
    return ConsentRow(
        r.id,
        r.public_id,
        r.link_id,
        r.partner_id,
        r.user_ref,
        r.account_id,
        tuple(r.scopes),
        r.purpose,
        r.granted_at,
        r.recorded_at,
        r.granted_via,
        r.revoked_at,
        r.revoked_by,
        int(r.partner_pk),
    )


def _joined() -> Join:
    return consents.join(
        partner_links, and_(partner_links.c.pkey == consents.c.pkey, partner_links.c.id == consents.c.link_id)
    ).join(partners, partners.c.pk == partner_links.c.partner_pk)


@dataclass(frozen=True, slots=True)
class TokenOwner:
    """Whose a user token is: the account, and the partner that minted it (None: the person's own sign-in)."""

    account_id: int
    partner_pk: int | None


@dataclass(frozen=True, slots=True)
class Link:
    account_id: int
    consenting: bool  # the link has an active (granted, not revoked) consent


class ConsentRepository(Repository):
    # -- links --------------------------------------------------------------------------

    def link(self, partner_pk: int, user_ref: str) -> tuple[int, int] | None:
        row = self.conn.execute(
            select(partner_links.c.id, partner_links.c.account_id).where(
                partner_links.c.partner_pk == partner_pk, partner_links.c.user_ref == user_ref
            )
        ).first()
        return None if row is None else (int(row.id), int(row.account_id))

    def add_link(self, partner_pk: int, user_ref: str, account_id: int, now: datetime) -> int:
        """A second link of the same user_ref is refused by its claim (a unique-key violation)."""
        self.conn.execute(insert(partner_refs).values(user_ref=user_ref, partner_pk=partner_pk))
        return int(
            self.conn.execute(
                insert(partner_links)
                .values(pkey=pkey_of(account_id), partner_pk=partner_pk, user_ref=user_ref, account_id=account_id, created_at=now)
                .returning(partner_links.c.id)
            ).scalar_one()
        )

    def links_with_active_consent(self, partner_pk: int, user_refs: Sequence[str]) -> dict[str, Link]:
        """user_ref -> its link and whether it has an active consent, for a whole batch (ingest)."""
        rows = self.dialect.fetch_in(
            self.conn,
            "SELECT l.user_ref, l.account_id, CASE WHEN c.id IS NULL THEN 0 ELSE 1 END"
            " FROM partner_links l LEFT JOIN consents c ON c.pkey = l.pkey AND c.link_id = l.id AND c.revoked_at IS NULL"
            " WHERE l.user_ref {IN} AND l.partner_pk = ?",
            sorted(set(user_refs)),
            (partner_pk,),
        )
        return {ref: Link(account_id, bool(consenting)) for ref, account_id, consenting in rows}

    # -- consents -----------------------------------------------------------------------

    def active_for_link(self, link_id: int) -> ConsentRow | None:
        row = self.conn.execute(
            select(*_CONSENT_COLUMNS).select_from(_joined()).where(consents.c.link_id == link_id, consents.c.revoked_at.is_(None))
        ).first()
        return None if row is None else _consent(row)

    def grant(
        self, public_id: str, link_id: int, scopes: list[str], purpose: str, granted_at: datetime, via: str, now: datetime
    ) -> int:
        pkey = self.conn.execute(select(partner_links.c.pkey).where(partner_links.c.id == link_id)).scalar_one()
        return int(
            self.conn.execute(
                insert(consents)
                .values(
                    pkey=pkey,
                    public_id=public_id,
                    link_id=link_id,
                    scopes=scopes,
                    purpose=purpose,
                    granted_at=granted_at,
                    recorded_at=now,
                    granted_via=via,
                )
                .returning(consents.c.id)
            ).scalar_one()
        )

    def get(self, consent_id: int) -> ConsentRow | None:
        row = self.conn.execute(select(*_CONSENT_COLUMNS).select_from(_joined()).where(consents.c.id == consent_id)).first()
        return None if row is None else _consent(row)

    def get_public(self, public_id: str) -> ConsentRow | None:
        row = self.conn.execute(select(*_CONSENT_COLUMNS).select_from(_joined()).where(consents.c.public_id == public_id)).first()
        return None if row is None else _consent(row)

    def revoke(self, consent_id: int, now: datetime, by: str) -> None:
        self.conn.execute(
            update(consents)
            .where(consents.c.id == consent_id, consents.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_by=by)
        )

    def for_account(self, account_id: int) -> list[ConsentRow]:
        rows = self.conn.execute(
            select(*_CONSENT_COLUMNS)
            .select_from(_joined())
            .where(partner_links.c.pkey == pkey_of(account_id), partner_links.c.account_id == account_id)
            .order_by(consents.c.id)
        )
        return [_consent(row) for row in rows]

    # -- binding codes and user tokens --------------------------------------------------

    def add_binding_code(self, code_hash: str, account_id: int, now: datetime, expires_at: datetime) -> None:
        self.conn.execute(
            insert(binding_codes).values(code_hash=code_hash, account_id=account_id, created_at=now, expires_at=expires_at)
        )

    def use_binding_code(self, code_hash: str, now: datetime) -> int | None:
        """The code's account, marking it used; None when unknown, used or expired."""
        row = self.conn.execute(
            self.dialect.for_update(select(binding_codes).where(binding_codes.c.code_hash == code_hash))
        ).first()
        if row is None or row.used_at is not None or row.expires_at <= now:
            return None
        self.conn.execute(update(binding_codes).where(binding_codes.c.code_hash == code_hash).values(used_at=now))
        return int(row.account_id)

    def add_token(
        self, token_hash: str, account_id: int, kind: str, now: datetime, expires_at: datetime, partner_pk: int | None = None
    ) -> None:
        self.conn.execute(
            insert(user_tokens).values(
                token_hash=token_hash,
                account_id=account_id,
                kind=kind,
                created_at=now,
                expires_at=expires_at,
                partner_pk=partner_pk,
            )
        )

    def _consenting(self, account_id: int, partner_pk: int) -> bool:
        """The partner still has an active consent from the account (read where the person's rows are)."""
        row = self.conn.execute(
            select(consents.c.id)
            .select_from(
                consents.join(
                    partner_links, and_(partner_links.c.pkey == consents.c.pkey, partner_links.c.id == consents.c.link_id)
                )
            )
            .where(
                partner_links.c.pkey == pkey_of(account_id),
                partner_links.c.account_id == account_id,
                partner_links.c.partner_pk == partner_pk,
                consents.c.revoked_at.is_(None),
            )
            .limit(1)
        ).first()
        return row is not None

    def token_owner(self, token_hash: str, kind: str, now: datetime) -> TokenOwner | None:
        """Who a live token belongs to; a partner's token lives only while that partner's consent is active."""
        row = self.conn.execute(
            select(user_tokens.c.account_id, user_tokens.c.partner_pk, user_tokens.c.expires_at, user_tokens.c.used_at).where(
                user_tokens.c.token_hash == token_hash, user_tokens.c.kind == kind
            )
        ).first()
        if row is None or row.expires_at <= now or row.used_at is not None:
            return None
        if row.partner_pk is not None and not self._consenting(int(row.account_id), int(row.partner_pk)):
            return None
        return TokenOwner(int(row.account_id), None if row.partner_pk is None else int(row.partner_pk))

    def token_account(self, token_hash: str, kind: str, now: datetime) -> int | None:
        owner = self.token_owner(token_hash, kind, now)
        return None if owner is None else owner.account_id

    def use_token(self, token_hash: str, kind: str, now: datetime) -> TokenOwner | None:
        """A single-use token (a login ticket): who it is for, and never again."""
        owner = self.token_owner(token_hash, kind, now)
        if owner is None:
            return None
        done = self.conn.execute(
            update(user_tokens)
            .where(user_tokens.c.token_hash == token_hash, user_tokens.c.used_at.is_(None))
            .values(used_at=now)
            .returning(user_tokens.c.account_id)
        ).first()
        return owner if done is not None else None

    def revoke_partner_tokens(self, account_id: int, partner_pk: int, now: datetime) -> int:
        """Every live token and login ticket a partner's session minted for the account ends now (consent withdrawn)."""
        return (
            self.conn.execute(
                update(user_tokens)
                .where(
                    and_(
                        user_tokens.c.account_id == account_id,
                        user_tokens.c.partner_pk == partner_pk,
                        user_tokens.c.used_at.is_(None),
                    )
                )
                .values(used_at=now)
            ).rowcount
            or 0
        )
