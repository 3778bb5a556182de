"""My data sources: the apps I authorised, withdrawing an authorisation after a confirmation, granting it
again, and connecting another app with a binding code (issue 17).

Why a page of its own and a confirmation step: withdrawing ends the app's sign-ins at once and stops its
reports from being credited, which a person should read before, not after; granting again creates a new
consent (services/consent.py) so the withdrawal stays in the history. A binding code is shown once, in the
answer to the POST that made it, never in an address.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tanhui.errors import NotFound
from tanhui.services import accounts, consent
from tanhui.services.principal import Principal
from tanhui.store import Store
from tanhui.web.deps import checked_form, signed_in_as, store_of
from tanhui.web.render import csrf_refused, html_errors, own, redirect

router = APIRouter(include_in_schema=False)
DONE = ("revoked", "granted")  # the words after a change are chosen by this code, never taken from the address


def _sources(store: Store, who: Principal) -> tuple[list[dict[str, Any]], list[Any]]:
    """(my consents with their partner's name, the scheme's active partners I have not connected)."""
    scheme_id = accounts.scheme_of(store, who.account_id)
    with store.unit_of_work(write=False) as uow:
        partners = uow.partners.list(scheme_id)
    names = {p.id: p.name for p in partners}
    active = {p.id for p in partners if p.status == "active"}
    latest = {c["partner_id"]: c for c in consent.consents_of(store, who)}  # granted again: the newest of each app
    mine = [
        {**c, "partner_name": names.get(str(c["partner_id"]), "—"), "can_grant": c["partner_id"] in active}
        for c in latest.values()
    ]
    connected = {c["partner_id"] for c in mine}
    return mine, [p for p in partners if p.id not in connected and p.status == "active"]


def _page(request: Request, store: Store, who: Principal, **context: Any) -> Response:
    mine, others = _sources(store, who)
    return own(request, "sources.html", consents=mine, others=others, **context)


@router.get("/me/sources")
@html_errors
def sources_page(
    request: Request, done: str | None = None, who: Principal = Depends(signed_in_as), store: Store = Depends(store_of)
) -> Response:
    return _page(request, store, who, done=done if done in DONE else None)


def _mine(store: Store, who: Principal, consent_id: str) -> dict[str, Any]:
    mine, _others = _sources(store, who)
    found = next((c for c in mine if c["consent_id"] == consent_id), None)
    if found is None:
        raise NotFound("consent_not_found", user_ref=consent_id)
    return found


@router.get("/me/sources/{consent_id}/revoke")
@html_errors
def revoke_confirm_page(
    consent_id: str, request: Request, who: Principal = Depends(signed_in_as), store: Store = Depends(store_of)
) -> Response:
    found = _mine(store, who, consent_id)
    if found["status"] != "active":
        return redirect("/me/sources")
    return own(request, "source_revoke.html", c=found)


@router.post("/me/sources/{consent_id}/revoke")
@html_errors
def revoke(
    consent_id: str,
    request: Request,
    who: Principal = Depends(signed_in_as),
    f: dict[str, str] = Depends(checked_form),
    store: Store = Depends(store_of),
) -> Response:
    if f.get("confirm") != "yes":
        return csrf_refused(request)
    consent.revoke_by_person(store, who, consent_id)
    return redirect("/me/sources?done=revoked")


@router.post("/me/sources/{consent_id}/grant")
@html_errors
def grant_again(
    consent_id: str,
    request: Request,
    who: Principal = Depends(signed_in_as),
    f: dict[str, str] = Depends(checked_form),
    store: Store = Depends(store_of),
) -> Response:
    consent.grant_again_by_person(store, who, consent_id)
    return redirect("/me/sources?done=granted")


@router.post("/me/sources/code")
@html_errors
def binding_code(
    request: Request,
    who: Principal = Depends(signed_in_as),
    f: dict[str, str] = Depends(checked_form),
    store: Store = Depends(store_of),
) -> Response:
    return _page(request, store, who, code=consent.new_binding_code(store, who))
