"""The scheme's points liability: what it owes its people in points, now.

Points are a promise: every point in a person's account may be spent in the market, and points
held for open orders are owed to the merchant who ships them. The operator sees the whole promise
on the dashboard (issue 17): the points in people's accounts, the points held in escrow for
orders not yet delivered (by merchant), and what will expire in the next 30 and 90 days under the
scheme's policy — the same decision as `tanhui points expire` (engagement.due_expiries), asked for
a date ahead.

The totals come from the report counters of the system accounts (issuance, held, redeemed,
expired), so reading them costs a few rows whatever the number of people: every point is in
exactly one account, so what the people hold is what was issued less what sits in the system's
own accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tanhui.domain import engagement as rules
from tanhui.domain.ledger import ASSET_POINTS, SYSTEM_ACCOUNT_CODES, SYSTEM_HELD
from tanhui.domain.market import PENDING, SHIPPED
from tanhui.errors import NotFound
from tanhui.services.clock import utcnow
from tanhui.services.engagement import due_expiries
from tanhui.store import Store

HORIZONS = (30, 90)  # days ahead for "expiring soon"
OPEN = (PENDING, SHIPPED)  # orders whose points are held: not yet delivered nor cancelled


@dataclass(frozen=True, slots=True)
class MerchantHold:
    merchant: str  # "" when the items name none
    orders: int
    points: int


@dataclass(frozen=True, slots=True)
class Expiring:
    days: int
    by: date  # the scheme-local day an expiry run would take these points on
    earned_through: int  # points earned in this year or before have expired once `by` has passed
    points: int
    people: int


@dataclass(frozen=True, slots=True)
class Liability:
    outstanding: int  # in people's accounts, spendable
    held: int  # in escrow for open orders
    held_by_merchant: list[MerchantHold]
    expiring: list[Expiring]  # empty when the policy is "never"
    policy: str


def points_liability(store: Store, scheme_id: str, now: datetime | None = None) -> Liability:
    now = now or utcnow()
    with store.unit_of_work(write=False) as uow:
        scheme = uow.schemes.get(scheme_id)
        if scheme is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        # flow = what left minus what came in: the negated balance of an untracked account
        balances = {
            code: -uow.reports.flow(uow.ledger.system_account(scheme_id, ASSET_POINTS, code).id, None, None)
            for code in SYSTEM_ACCOUNT_CODES
        }
        people = -sum(balances.values())  # every point is somewhere: the people hold the rest
        held = balances[SYSTEM_HELD]
        merchants = [MerchantHold(m, n, p) for m, n, p in uow.market.open_orders_by_merchant(scheme_id, OPEN)]
        policy = rules.expiry_policy(scheme.settings)
        expiring = []
        if policy == "end_of_next_year":
            today = now.astimezone(ZoneInfo(scheme.timezone)).date()
            for days in HORIZONS:
                # what an expiry run on that day would post (as a person's points statement counts it)
                by = today + timedelta(days=days)
                due = due_expiries(uow, scheme_id, scheme.timezone, by, now)
                expiring.append(Expiring(days, by, rules.expiry_cutoff_year(by), sum(a for _, a in due), len(due)))
    return Liability(people, held, merchants, expiring, policy)
