"""Organisations: enterprises, schools, communities, public bodies and groups within a scheme.

They hold registry credits (docs/registry.md) and have members (who join with an invite code), team
totals and leaderboards.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import TypedDict

from tanhui.domain.leaderboard import Board, board, period_days
from tanhui.domain.schemes import validate_name
from tanhui.errors import InvalidInput, NotFound
from tanhui.services import audit
from tanhui.services.clock import utcnow
from tanhui.store import Store
from tanhui.store.rows import OrganisationDict, OrganisationRow, Standing
from tanhui.store.uow import UnitOfWork

KINDS = ("company", "school", "community", "government", "group")


def create(
    store: Store, scheme_id: str, name: str, kind: str = "company", now: datetime | None = None, *, actor: str = "system"
) -> OrganisationRow:
    if kind not in KINDS:
        raise InvalidInput("invalid_organisation_kind", details={"field": "kind"}, kind=kind, kinds=", ".join(KINDS))
    cleaned = validate_name(name)
    store.require_initialised()
    now = now or utcnow()
    with store.unit_of_work() as uow:
        if uow.schemes.get(scheme_id) is None:
            raise NotFound("scheme_not_found", scheme_id=scheme_id)
        org = uow.organisations.add("org_" + secrets.token_hex(8), scheme_id, cleaned, kind, secrets.token_hex(8), now)
        audit.record(uow, actor, "org.create", org.public_id, {"kind": kind}, scheme_id, now=now)
        return org


def list_(store: Store, scheme_id: str | None = None) -> list[OrganisationRow]:
    store.require_initialised()
    with store.unit_of_work(write=False) as uow:
        return uow.organisations.list(scheme_id)


def get_in(uow: UnitOfWork, public_id: str, scheme_id: str | None = None) -> OrganisationRow:
    """The organisation, refused as not found when it belongs to another scheme."""
    found = uow.organisations.get(public_id)
    if found is None or (scheme_id is not None and found.scheme_id != scheme_id):
        raise NotFound("organisation_not_found", organisation_id=public_id)
    return found


# -- members (the web application: join with an invite code, team totals, leaderboards) --------

BOARD_SIZE = 20


def join(store: Store, account_id: int, invite_code: str, now: datetime | None = None) -> OrganisationRow:
    """The person joins the organisation of this invite code (same scheme only); joining twice is harmless."""
    code = (invite_code or "").strip()
    with store.unit_of_work() as uow:
        account = uow.accounts.get(account_id)
        found = uow.memberships.by_invite_code(code) if code else None
        if account is None or found is None or found[2] != account.scheme_id:
            raise InvalidInput("invalid_invite_code", details={"invite_code": "unknown"})
        org = get_in(uow, found[1], account.scheme_id)
        if not uow.memberships.is_member(org.id, account_id):
            uow.memberships.add(org.id, account_id, now or utcnow())
        return org


class MyOrganisation(OrganisationDict):
    """One of a person's organisations, with its members' total and the person's place among them."""

    members: int
    carbon_g_total: int
    my_rank: int | None  # None: nothing credited yet, so no place among the members
    joined_at: str  # ISO 8601


class OrganisationPage(TypedDict):
    organisation: OrganisationRow
    members: int
    carbon_g_total: int
    board: list[Standing]  # the members' leaderboard, largest first
    place_in_scheme: int | None  # None when the organisation has no standing yet
    organisations_in_scheme: int


def of_account(store: Store, account_id: int) -> list[MyOrganisation]:
    """The person's organisations with members, total and the person's rank among the members."""
    with store.unit_of_work(write=False) as uow:
        holdings = uow.ledger.holdings(account_id)
        mine = uow.ledger.balance(holdings["CO2E"].id) if holdings else 0
        joined = uow.memberships.organisations_of(account_id)
        orgs = uow.organisations.by_ids({pk for pk, _ in joined})
        out: list[MyOrganisation] = []
        for pk, joined_at in joined:
            members, carbon_g = uow.memberships.totals(pk)
            out.append(
                {
                    **orgs[pk].to_dict(),
                    "members": members,
                    "carbon_g_total": carbon_g,
                    "my_rank": uow.memberships.rank_among_members(pk, mine) if mine > 0 else None,
                    "joined_at": joined_at.isoformat(),
                }
            )
        return out


def page(store: Store, public_id: str, scheme_id: str, *, board_size: int = BOARD_SIZE) -> OrganisationPage:
    """An organisation's page: members, their total, the members' leaderboard, its place in the scheme."""
    with store.unit_of_work(write=False) as uow:
        org = get_in(uow, public_id, scheme_id)
        members, carbon_g = uow.memberships.totals(org.id)
        board = uow.memberships.member_board(org.id, board_size)
        scheme_board = uow.memberships.organisation_board(scheme_id)
    place = next((i for i, s in enumerate(scheme_board, 1) if s.key == org.public_id), None)
    return {
        "organisation": org,
        "members": members,
        "carbon_g_total": carbon_g,
        "board": board,
        "place_in_scheme": place,
        "organisations_in_scheme": len(scheme_board),
    }


def member_board(
    store: Store, public_id: str, scheme_id: str, account_id: int, period: str, today: date, *, size: int = BOARD_SIZE
) -> Board:
    """The members' leaderboard of this week, this month (scheme-local days up to `today`) or all time,
    with the person's own place, also when it is below the top `size`."""
    days = period_days(period, today)
    with store.unit_of_work(write=False) as uow:
        org = get_in(uow, public_id, scheme_id)
        totals = uow.memberships.member_totals(org.id, *(days or (None, None)))
    return board(totals, str(account_id), size)


def scheme_board(store: Store, scheme_id: str, limit: int | None = None) -> list[Standing]:
    with store.unit_of_work(write=False) as uow:
        return list(uow.memberships.organisation_board(scheme_id, limit))


def members_of(store: Store, public_id: str, scheme_id: str, limit: int = 500, offset: int = 0) -> list[Standing]:
    """The employer's view: every member with their reduction (the "employee carbon account")."""
    with store.unit_of_work(write=False) as uow:
        org = get_in(uow, public_id, scheme_id)
        return list(uow.memberships.member_board(org.id, limit, offset))


def invite_code(store: Store, public_id: str, scheme_id: str) -> str:
    with store.unit_of_work(write=False) as uow:
        return uow.memberships.invite_code(get_in(uow, public_id, scheme_id).id)


# -- the organisation's own administrator (role org_admin, docs/web.md "Organisation administrators") ------


def new_invite_code(store: Store, public_id: str, scheme_id: str, *, actor: str, now: datetime | None = None) -> str:
    """A fresh invite code; the old one stops working at once (members who joined with it stay)."""
    code = secrets.token_hex(8)
    with store.unit_of_work() as uow:
        org = get_in(uow, public_id, scheme_id)
        uow.organisations.set_invite_code(org.id, code)
        audit.record(uow, actor, "org.new_invite_code", org.public_id, None, scheme_id, now=now)
    return code


def remove_member(
    store: Store, public_id: str, scheme_id: str, account_id: int, *, actor: str, now: datetime | None = None
) -> None:
    """The member leaves the organisation (their account, points and reductions are untouched)."""
    with store.unit_of_work() as uow:
        org = get_in(uow, public_id, scheme_id)
        if not uow.memberships.is_member(org.id, account_id):
            raise NotFound("member_not_found", account_id=account_id)
        uow.memberships.remove(org.id, account_id)
        audit.record(uow, actor, "org.remove_member", org.public_id, {"account": account_id}, scheme_id, now=now)
