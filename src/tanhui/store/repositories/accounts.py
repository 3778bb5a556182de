from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select

from tanhui.domain.ledger import ASSETS, HOLDINGS
from tanhui.store.distribution import pkey_of
from tanhui.store.repositories.base import Repository
from tanhui.store.repositories.reports import ReportRepository
from tanhui.store.schema import account_profiles, accounts, ledger_accounts


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    scheme_id: str
    kind: str
    created_at: datetime
    erased_at: datetime | None


class AccountRepository(Repository):
    def open(
        self,
        scheme_id: str,
        now: datetime,
        kind: str = "person",
        display_name: str | None = None,
    ) -> int:
        """A new account with one holdings ledger account per asset (balance 0, never negative)."""
        # The id first: the person key (store/distribution.py) is a function of it.
        [account_id] = self.dialect.allocate_ids(self.conn, accounts, 1)
        pkey = pkey_of(account_id)
        self.conn.execute(insert(accounts).values(id=account_id, pkey=pkey, scheme_id=scheme_id, kind=kind, created_at=now))
        self.conn.execute(
            insert(ledger_accounts),
            [
                {
                    "pkey": pkey,
                    "scheme_id": scheme_id,
                    "asset": asset,
                    "code": HOLDINGS,
                    "owner_account_id": account_id,
                    "non_negative": True,
                    "tracked": True,
                    "balance": 0,
                }
                for asset in ASSETS
            ],
        )
        if kind == "person":
            ReportRepository(self.conn, self.dialect).count_account(scheme_id, int(account_id), now, registered=1)
        if display_name is not None:
            self.conn.execute(
                insert(account_profiles).values(pkey=pkey, account_id=account_id, display_name=display_name, updated_at=now)
            )
        return int(account_id)

    def get(self, account_id: int) -> AccountRow | None:
        row = self.conn.execute(
            select(accounts).where(accounts.c.pkey == pkey_of(account_id), accounts.c.id == account_id)
        ).first()
        if row is None:
            return None
        return AccountRow(row.id, row.scheme_id, row.kind, row.created_at, row.erased_at)

    def names(self, account_ids: Iterable[int]) -> dict[int, str]:
        """The name each account goes by (the display name, else the username), for those that have one."""
        ids = sorted(set(account_ids))
        if not ids:
            return {}
        p = account_profiles.c
        rows = self.conn.execute(
            select(p.account_id, p.display_name, p.username).where(self.dialect.in_values(p.account_id, ids))
        )
        return {int(a): (d or u) for a, d, u in rows if d or u}
