"""Members of organisations, and the team totals and leaderboards read from their carbon holdings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Join, and_, delete, func, insert, select

from tanhui.domain.ledger import ASSET_CO2E, HOLDINGS
from tanhui.store.distribution import pkey_of
from tanhui.store.repositories.base import Repository
from tanhui.store.schema import account_profiles, accounts, events, ledger_accounts, memberships, organisations


@dataclass(frozen=True, slots=True)
class Standing:
    """One row of a leaderboard: a member or an organisation with its reduction total."""

    key: str  # account id (members) or organisation public id
    name: str | None
    carbon_g: int
    members: int


def _carbon_join() -> Join:
    return memberships.join(
        ledger_accounts,
        and_(
            ledger_accounts.c.pkey == memberships.c.pkey,
            ledger_accounts.c.owner_account_id == memberships.c.account_id,
            ledger_accounts.c.asset == ASSET_CO2E,
            ledger_accounts.c.code == HOLDINGS,
        ),
    )


class MembershipRepository(Repository):
    def by_invite_code(self, invite_code: str) -> tuple[int, str, str] | None:
        """(organisation pk, public id, scheme id) of the organisation with this invite code."""
        row = self.conn.execute(
            select(organisations.c.id, organisations.c.public_id, organisations.c.scheme_id).where(
                organisations.c.invite_code == invite_code
            )
        ).first()
        return None if row is None else (int(row.id), row.public_id, row.scheme_id)

    def invite_code(self, organisation_pk: int) -> str:
        return str(
            self.conn.execute(select(organisations.c.invite_code).where(organisations.c.id == organisation_pk)).scalar_one()
        )

    def is_member(self, organisation_pk: int, account_id: int) -> bool:
        return (
            self.conn.execute(
                select(memberships.c.account_id).where(
                    memberships.c.organisation_id == organisation_pk, memberships.c.account_id == account_id
                )
            ).first()
            is not None
        )

    def add(self, organisation_pk: int, account_id: int, now: datetime) -> None:
        self.conn.execute(
            insert(memberships).values(
                pkey=pkey_of(account_id), organisation_id=organisation_pk, account_id=account_id, joined_at=now
            )
        )

    def remove(self, organisation_pk: int, account_id: int) -> None:
        self.conn.execute(
            delete(memberships).where(memberships.c.organisation_id == organisation_pk, memberships.c.account_id == account_id)
        )

    def remove_all(self, account_id: int) -> int:
        return self.conn.execute(delete(memberships).where(memberships.c.account_id == account_id)).rowcount or 0

    def organisations_of(self, account_id: int) -> list[tuple[int, datetime]]:
        """(organisation pk, joined at) of every organisation the account belongs to."""
        rows = self.conn.execute(
            select(memberships.c.organisation_id, memberships.c.joined_at)
            .where(memberships.c.account_id == account_id)
            .order_by(memberships.c.joined_at)
        )
        return [(int(r.organisation_id), r.joined_at) for r in rows]

    def totals(self, organisation_pk: int) -> tuple[int, int]:
        """(members, their reduction in grams)."""
        row = self.conn.execute(
            select(func.count(), func.coalesce(func.sum(ledger_accounts.c.balance), 0))
            .select_from(_carbon_join())
            .where(memberships.c.organisation_id == organisation_pk)
        ).one()
        return int(row[0]), int(row[1])

    def member_board(self, organisation_pk: int, limit: int, offset: int = 0) -> list[Standing]:
        rows = self.conn.execute(
            select(memberships.c.account_id, account_profiles.c.display_name, ledger_accounts.c.balance)
            .select_from(
                _carbon_join().outerjoin(
                    account_profiles,
                    and_(
                        account_profiles.c.pkey == memberships.c.pkey, account_profiles.c.account_id == memberships.c.account_id
                    ),
                )
            )
            .where(memberships.c.organisation_id == organisation_pk)
            .order_by(ledger_accounts.c.balance.desc(), memberships.c.account_id)
            .limit(limit)
            .offset(offset)
        )
        return [Standing(str(r.account_id), r.display_name, int(r.balance or 0), 1) for r in rows]

    def member_totals(
        self, organisation_pk: int, day_from: int | None = None, day_to: int | None = None
    ) -> list[tuple[str, str | None, int]]:
        """(account id, display name, grams) of every member: their holdings, or with a period their
        credited events in [day_from, day_to] (members with any). A leaderboard with the person's own
        place needs every member's total; an organisation's members are few enough to read at once."""
        profile = and_(account_profiles.c.pkey == memberships.c.pkey, account_profiles.c.account_id == memberships.c.account_id)
        if day_from is None or day_to is None:
            query = select(memberships.c.account_id, account_profiles.c.display_name, ledger_accounts.c.balance).select_from(
                _carbon_join().outerjoin(account_profiles, profile)
            )
        else:
            credited = and_(
                events.c.pkey == memberships.c.pkey,  # co-located on a distributed store
                events.c.account_id == memberships.c.account_id,
                events.c.status == "credited",
                events.c.local_day >= day_from,
                events.c.local_day <= day_to,
            )
            query = (
                select(memberships.c.account_id, account_profiles.c.display_name, func.sum(events.c.carbon_g))
                .select_from(memberships.join(events, credited).outerjoin(account_profiles, profile))
                .group_by(memberships.c.account_id, account_profiles.c.display_name)
            )
        rows = self.conn.execute(query.where(memberships.c.organisation_id == organisation_pk))
        return [(str(r[0]), r[1], int(r[2] or 0)) for r in rows]

    def scheme_top(
        self, scheme_id: str, limit: int, day_from: int | None = None, day_to: int | None = None
    ) -> list[tuple[str, str | None, int]]:
        """(account id, display name, grams) of the scheme's `limit` largest reducers, largest first: by
        holdings, or with a period by credited events in [day_from, day_to]. One scan of the scheme's
        holdings or of the period's events: the service keeps the answer for a minute."""
        if day_from is None or day_to is None:
            grams = ledger_accounts.c.balance
            query = (
                select(ledger_accounts.c.owner_account_id.label("account_id"), grams.label("grams"))
                .where(
                    ledger_accounts.c.scheme_id == scheme_id,
                    ledger_accounts.c.asset == ASSET_CO2E,
                    ledger_accounts.c.code == HOLDINGS,
                    ledger_accounts.c.owner_account_id.is_not(None),
                    grams > 0,
                )
                .order_by(grams.desc(), ledger_accounts.c.owner_account_id)
                .limit(limit)
            )
        else:
            total = func.sum(events.c.carbon_g)
            query = (
                select(events.c.account_id.label("account_id"), total.label("grams"))
                .where(
                    events.c.scheme_id == scheme_id,
                    events.c.status == "credited",
                    events.c.account_id.is_not(None),
                    events.c.local_day >= day_from,
                    events.c.local_day <= day_to,
                )
                .group_by(events.c.account_id)
                .having(total > 0)
                .order_by(total.desc(), events.c.account_id)
                .limit(limit)
            )
        top = [(int(r.account_id), int(r.grams)) for r in self.conn.execute(query)]
        names = dict(
            self.conn.execute(
                select(account_profiles.c.account_id, account_profiles.c.display_name).where(
                    account_profiles.c.pkey.in_({pkey_of(a) for a, _ in top}),  # the shards of these people only
                    account_profiles.c.account_id.in_([a for a, _ in top]),
                )
            ).all()
        )
        return [(str(a), names.get(a), g) for a, g in top]

    def rank_among_members(self, organisation_pk: int, carbon_g: int) -> int:
        ahead = self.conn.execute(
            select(func.count())
            .select_from(_carbon_join())
            .where(memberships.c.organisation_id == organisation_pk, ledger_accounts.c.balance > carbon_g)
        ).scalar_one()
        return int(ahead) + 1

    def organisation_board(self, scheme_id: str, limit: int | None = None) -> list[Standing]:
        """Every organisation of the scheme with its members' total, largest first."""
        totals = (
            select(
                memberships.c.organisation_id.label("org"),
                func.count().label("members"),
                func.coalesce(func.sum(ledger_accounts.c.balance), 0).label("carbon_g"),
            )
            .select_from(_carbon_join())
            .group_by(memberships.c.organisation_id)
            .subquery()
        )
        query = (
            select(organisations.c.public_id, organisations.c.name, totals.c.members, totals.c.carbon_g)
            .select_from(organisations.outerjoin(totals, totals.c.org == organisations.c.id))
            .where(organisations.c.scheme_id == scheme_id)
            .order_by(func.coalesce(totals.c.carbon_g, 0).desc(), organisations.c.id)
        )
        if limit is not None:
            query = query.limit(limit)
        return [Standing(r.public_id, r.name, int(r.carbon_g or 0), int(r.members or 0)) for r in self.conn.execute(query)]

    def members_in_scheme(self, scheme_id: str) -> int:
        """People who belong to at least one of the scheme's organisations."""
        return int(
            self.conn.execute(
                select(func.count(func.distinct(memberships.c.account_id)))
                .select_from(memberships.join(organisations, organisations.c.id == memberships.c.organisation_id))
                .where(organisations.c.scheme_id == scheme_id)
            ).scalar_one()
        )

    def scheme_people(self, scheme_id: str) -> int:
        return int(
            self.conn.execute(
                select(func.count()).where(accounts.c.scheme_id == scheme_id, accounts.c.kind == "person")
            ).scalar_one()
        )
