"""Everything held about one person, read for an export and cleared for an erasure."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, delete, literal, or_, select, update

from tanhui.domain.privacy import ERASED_EVENT_PREFIX, erased_explanation
from tanhui.store.distribution import pkey_of
from tanhui.store.repositories.base import Repository
from tanhui.store.repositories.reports import ReportRepository
from tanhui.store.schema import (
    account_profiles,
    accounts,
    checkins,
    event_claims,
    events,
    journal_entries,
    ledger_accounts,
    partner_links,
    partner_refs,
    partners,
    postings,
)


class PrivacyRepository(Repository):
    def profile(self, account_id: int) -> dict[str, Any] | None:
        row = self.conn.execute(select(account_profiles).where(account_profiles.c.account_id == account_id)).first()
        return None if row is None else {"display_name": row.display_name, "phone": row.phone, "username": row.username}

    def events(self, account_id: int, partner_pk: int | None = None) -> list[Any]:
        """The person's events (only one partner's when ``partner_pk``: a partner's session)."""
        query = (
            select(events, partners.c.id.label("partner_id"))
            .select_from(events.join(partners, partners.c.pk == events.c.partner_pk))
            .where(events.c.account_id == account_id)
            .order_by(events.c.id)
        )
        if partner_pk is not None:
            query = query.where(events.c.partner_pk == partner_pk)
        return list(self.conn.execute(query))

    def checkins(self, account_id: int) -> list[Any]:
        return list(self.conn.execute(select(checkins).where(checkins.c.account_id == account_id).order_by(checkins.c.local_day)))

    def postings(self, account_id: int) -> list[Any]:
        """Every posting in or out of the person's holdings, with its entry's kind and time and the asset."""
        pkey = pkey_of(account_id)
        mine = dict(
            self.conn.execute(
                select(ledger_accounts.c.id, ledger_accounts.c.asset).where(
                    ledger_accounts.c.pkey == pkey, ledger_accounts.c.owner_account_id == account_id
                )
            ).all()
        )
        if not mine:
            return []
        rows = self.conn.execute(
            select(
                postings.c.id,
                postings.c.entry_id,
                postings.c.from_account_id,
                postings.c.to_account_id,
                postings.c.amount,
                postings.c.from_balance_after,
                postings.c.to_balance_after,
                journal_entries.c.kind,
                journal_entries.c.created_at,
            )
            .select_from(
                postings.join(
                    journal_entries, and_(journal_entries.c.pkey == postings.c.pkey, journal_entries.c.id == postings.c.entry_id)
                )
            )
            .where(
                postings.c.pkey == pkey, or_(postings.c.from_account_id.in_(list(mine)), postings.c.to_account_id.in_(list(mine)))
            )
            .order_by(postings.c.id)
        )
        return [_WithAsset(r, mine.get(r.from_account_id) or mine[r.to_account_id]) for r in rows]

    def erase(self, account_id: int, now: datetime) -> int:
        """Personal data out; pseudonymous ledger and event records stay (tanhui verify still passes).

        Every value a partner supplied about the person goes, wherever it was copied: the profile
        (display_name), the partner links' user_refs, and in each of the person's events (and any event
        a partner sent under one of the person's user_refs) the user_ref, the raw data, the rejection
        details, the explanation's inputs and region keys (domain/privacy.py) and the partner's event_id,
        replaced by ``erased-<random per erasure>-<row id>`` (unique, so (partner, event_id) stays unique;
        the random part means a partner cannot have sent it). Outcomes, grams, points, the methodology,
        content hash and behaviour fingerprint stay (de-duplication and the registry need them).
        On SQLite the transaction runs with ``secure_delete`` on, so the old cells are overwritten with
        zeros; call ``Store.truncate_log`` after the commit. Returns the number of events erased."""
        self.dialect.overwrite_freed(self.conn, True)
        refs = [
            (int(r.partner_pk), r.user_ref)
            for r in self.conn.execute(
                select(partner_links.c.partner_pk, partner_links.c.user_ref).where(
                    partner_links.c.account_id == account_id, partner_links.c.user_ref.is_not(None)
                )
            )
        ]
        theirs = or_(
            events.c.account_id == account_id,
            *(and_(events.c.partner_pk == pk, events.c.user_ref == ref) for pk, ref in refs),
        )
        ids = [int(i) for i in self.conn.execute(select(events.c.id).where(theirs).order_by(events.c.id)).scalars()]
        self.conn.execute(delete(account_profiles).where(account_profiles.c.account_id == account_id))
        self.conn.execute(update(partner_links).where(partner_links.c.account_id == account_id).values(user_ref=None))
        for pk, ref in refs:
            self.conn.execute(delete(partner_refs).where(partner_refs.c.partner_pk == pk, partner_refs.c.user_ref == ref))
        prefix = f"{ERASED_EVENT_PREFIX}{secrets.token_hex(8)}-"
        pseudonym = literal(prefix, String) + cast(events.c.id, String)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            claims = [
                (int(r.id), int(r.partner_pk), r.event_id)
                for r in self.conn.execute(
                    select(events.c.id, events.c.partner_pk, events.c.event_id).where(events.c.id.in_(chunk))
                )
            ]
            for _id, pk, event_id in claims:  # the claim held the partner's event id too: it becomes the pseudonym
                self.conn.execute(
                    delete(event_claims).where(event_claims.c.event_id == event_id, event_claims.c.partner_pk == pk)
                )
            self.dialect.insert_rows(
                self.conn, event_claims, ("event_id", "partner_pk"), [(f"{prefix}{i}", pk) for i, pk, _ in claims]
            )
            explained = [
                {"b_id": int(r.id), "b_explanation": erased_explanation(r.explanation)}
                for r in self.conn.execute(
                    select(events.c.id, events.c.explanation).where(events.c.id.in_(chunk), events.c.explanation.is_not(None))
                )
            ]
            self.conn.execute(
                update(events)
                .where(events.c.id.in_(chunk))
                .values(event_id=pseudonym, user_ref=None, data=None, details=None, explanation=None)
            )
            if explained:
                redact = update(events).where(events.c.id == bindparam("b_id")).values(explanation=bindparam("b_explanation"))
                self.conn.execute(redact, explained)
        erased = self.conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id, accounts.c.erased_at.is_(None))
            .values(erased_at=now)
            .returning(accounts.c.scheme_id, accounts.c.kind)
        ).first()
        if erased is not None and erased.kind == "person":
            ReportRepository(self.conn, self.dialect).count_account(erased.scheme_id, account_id, now, erased=1)
        self.dialect.overwrite_freed(self.conn, False)  # the cells were zeroed as they were changed
        return len(ids)


class _WithAsset:
    """A posting row with the asset of the person's side (attribute access, as the export reads rows)."""

    def __init__(self, row: Any, asset: str) -> None:
        self._row = row
        self.asset = asset

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)
