"""The person's rights over their data: a complete export (access) and erasure.

Erasure removes what identifies the person (profile, username and password hash, partner user
refs, memberships, and in every event the raw data, user_ref, rejection details and the explanation's
inputs, with the partner's event_id pseudonymised; store/repositories/privacy.erase), revokes consents
and sessions and marks the account erased; on SQLite the old bytes are zeroed (secure_delete) and the
WAL checkpointed and truncated. The ledger keeps its pseudonymous entries (account ids and amounts only), so balances,
totals and ``tanhui verify`` stay correct; the grams already credited stay counted in the scheme.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from tanhui.domain.ledger import ASSET_POINTS
from tanhui.domain.market import PENDING, SHIPPED
from tanhui.errors import NotFound
from tanhui.services.clock import utcnow
from tanhui.services.principal import Principal, as_principal
from tanhui.store import Store
from tanhui.store.uow import UnitOfWork

EXPORT_FORMAT = "tanhui-personal-data/1"


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, (datetime, date)) else value


def export_person(store: Store, who: int | Principal, now: datetime | None = None) -> dict[str, Any]:
    """Everything held about the person, as one JSON-ready document (GET /v1/me/export).

    A partner's session gets only what that partner holds a consent for: its link (user_ref), its
    consent and the events it sent, with the account's summary; no profile, credentials, other
    partners, orders, check-ins, memberships or ledger."""
    principal = as_principal(who)
    if principal.scoped:
        return _partner_export(store, principal, now)
    account_id = principal.account_id
    from tanhui.services import ranking
    from tanhui.services.accounts import summary_in

    with store.unit_of_work(write=False) as uow:
        account = uow.accounts.get(account_id)
        if account is None or account.erased_at is not None:
            raise NotFound("account_not_found", account_id=account_id)
        summary = summary_in(uow, account_id, lambda scheme_id, grams: ranking.rank(store, scheme_id, grams))
        consents = [c.to_dict() for c in uow.consents.for_account(account_id)]
        events = _with_withdrawals(uow, account_id, [_event(r) for r in uow.privacy.events(account_id)])
        orders = [o.to_dict() for o in uow.market.orders_of(account_id, limit=100_000)]
        delivered_to = uow.market.deliveries([o["order_id"] for o in orders])
        orders = [{**o, "delivery": delivered_to[o["order_id"]]} if o["order_id"] in delivered_to else o for o in orders]
        checkins = [
            {"date": date.fromordinal(r.local_day).isoformat(), "streak": r.streak, "points": r.points, "bonus": r.bonus}
            for r in uow.privacy.checkins(account_id)
        ]
        orgs = uow.memberships.organisations_of(account_id)
        org_rows = uow.organisations.by_ids({pk for pk, _ in orgs})
        memberships = [{**org_rows[pk].to_dict(), "joined_at": _iso(at)} for pk, at in orgs]
        holdings = uow.ledger.holdings(account_id)
        postings = [
            {
                "posting_id": str(r.id),
                "entry_id": str(r.entry_id),
                "kind": r.kind,
                "asset": r.asset,
                "direction": "in" if r.to_account_id in {h.id for h in holdings.values()} else "out",
                "amount": r.amount,
                "recorded_at": _iso(r.created_at),
                "balance_after": r.to_balance_after
                if r.to_account_id in {h.id for h in holdings.values()}
                else r.from_balance_after,
            }
            for r in uow.privacy.postings(account_id)
        ]
        profile = uow.privacy.profile(account_id)
        username = uow.identity.username_of(account_id)
    return {
        "format": EXPORT_FORMAT,
        "exported_at": (now or utcnow()).isoformat(),
        "account": {
            "account_id": str(account_id),
            "scheme_id": account.scheme_id,
            "kind": account.kind,
            "created_at": _iso(account.created_at),
        },
        "profile": profile,
        "credentials": {"username": username} if username else None,
        "summary": summary,
        "consents": consents,
        "events": events,
        "orders": orders,
        "checkins": checkins,
        "memberships": memberships,
        "ledger": {"accounts": {asset: str(h.id) for asset, h in holdings.items()}, "postings": postings},
    }


def _with_withdrawals(uow: UnitOfWork, account_id: int, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each event credited here and withdrawn after a race another platform won says so (docs/interop.md)."""
    found = uow.interop_claims.withdrawals_of(account_id, [int(e["id"]) for e in events])
    for e in events:
        w = found.get(int(e["id"]))
        if w is not None:
            e["withdrawn"] = {
                "claimed_by": w.claimed_by,
                "withdrawn_at": _iso(w.withdrawn_at),
                "shortfall_g": w.shortfall_g,
                "shortfall_points": w.shortfall_points,
            }
    return events


def _event(r: Any) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "partner_id": r.partner_id,
        "event_id": r.event_id,
        "user_ref": r.user_ref,
        "scenario": r.scenario,
        "occurred_at": _iso(r.occurred_at),
        "received_at": _iso(r.received_at),
        "status": r.status,
        "reason": r.reason,
        "carbon_g": r.carbon_g,
        "points": r.points,
        "methodology": r.methodology,
        "data": r.data,
        "explanation": r.explanation,
        "details": r.details,
    }


def _partner_export(store: Store, principal: Principal, now: datetime | None) -> dict[str, Any]:
    from tanhui.services import ranking
    from tanhui.services.accounts import summary_in

    account_id = principal.account_id
    with store.unit_of_work(write=False) as uow:
        account = uow.accounts.get(account_id)
        if account is None or account.erased_at is not None:
            raise NotFound("account_not_found", account_id=account_id)
        summary = summary_in(uow, account_id, lambda scheme_id, grams: ranking.rank(store, scheme_id, grams))
        consents = [c.to_dict() for c in uow.consents.for_account(account_id) if c.partner_pk == principal.partner_pk]
        events = _with_withdrawals(
            uow, account_id, [_event(r) for r in uow.privacy.events(account_id, partner_pk=principal.partner_pk)]
        )
    return {
        "format": EXPORT_FORMAT,
        "exported_at": (now or utcnow()).isoformat(),
        "scope": "partner_session",
        "account": {
            "account_id": str(account_id),
            "scheme_id": account.scheme_id,
            "kind": account.kind,
            "created_at": _iso(account.created_at),
        },
        "summary": summary,
        "consents": consents,
        "events": events,
    }


def erase_person(store: Store, who: int | Principal, now: datetime | None = None) -> dict[str, Any]:
    """DELETE /v1/me: erase the person; repeated calls answer the same. Only the person's own sign-in
    may erase (a partner's session: 403 partner_session_forbidden)."""
    principal = as_principal(who)
    principal.require_own_sign_in("erase the account")
    account_id = principal.account_id
    now = now or utcnow()
    from tanhui.services.market import cancel_in

    with store.unit_of_work() as uow:
        account = uow.accounts.get(account_id)
        if account is None:
            raise NotFound("account_not_found", account_id=account_id)
        if account.erased_at is not None:
            return {"status": "erased", "erased_at": account.erased_at.isoformat(), "orders_cancelled": [], "points_returned": 0}
        # Orders not yet shipped are cancelled first, their points returned through the ledger: after
        # the erasure nobody could receive them, and the delete page said so before the person agreed.
        cancelled = []
        for order in uow.market.orders_of(account_id, limit=100_000):
            if order.status == PENDING:
                locked = uow.market.order(order.public_id, lock=True)
                assert locked is not None
                cancel_in(uow, locked, now, by="person")
                cancelled.append(order)
        for consent in uow.consents.for_account(account_id):
            if consent.active:
                uow.consents.revoke(consent.id, now, by="person")
        uow.identity.delete_credentials(account_id)
        uow.identity.revoke_user_tokens(account_id, now)
        uow.memberships.remove_all(account_id)
        uow.market.erase_deliveries(account_id)  # addresses and phone numbers: the orders themselves stay
        uow.privacy.erase(account_id, now)
    store.truncate_log()  # SQLite: the WAL's old page images go too
    return {
        "status": "erased",
        "erased_at": now.isoformat(),
        "orders_cancelled": [o.public_id for o in cancelled],
        "points_returned": sum(o.points for o in cancelled),
    }


def before_erasure(store: Store, who: int | Principal) -> dict[str, Any]:
    """What erasure will do to the person's points and orders, for the page that asks them to agree:
    orders awaiting shipment are cancelled and their points returned, then the whole balance can no
    longer be spent; orders already shipped still arrive."""
    account_id = as_principal(who).account_id
    with store.unit_of_work(write=False) as uow:
        orders = uow.market.orders_of(account_id, limit=100_000)
        holdings = uow.ledger.holdings(account_id)
        balance = uow.ledger.balance(holdings[ASSET_POINTS].id) if holdings else 0
    pending = [o for o in orders if o.status == PENDING]
    returned = sum(o.points for o in pending)
    return {
        "pending": pending,
        "shipped": [o for o in orders if o.status == SHIPPED],
        "points_returned": returned,
        "points_balance": balance,
        "points_forfeited": balance + returned,
    }
