"""An organisation's own administrator (role ``org_admin``): a company, school or community manages its
invite code and members and reads its team's figures, leaderboard and exports — of this organisation only.

Every page is under /admin/orgs/{org_id} and declares `org_scope`, which answers 404 for any other
organisation (and for the scheme's operators, who have their own organisation pages); the scheme's pages
answer 404 to an organisation administrator (deps.scheme_scope). Changes are in the scheme's audit log
with the actor ``org_admin:<username>``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tanhui.errors import NotFound
from tanhui.services import audit, organisations
from tanhui.services.identity import OperatorScope
from tanhui.store import Store
from tanhui.web import charts
from tanhui.web.deps import checked_form, language, org_scope, store_of
from tanhui.web.i18n import translator
from tanhui.web.render import grams_as_kg, html_errors, redirect, render
from tanhui.web.tables import PAGE_SIZE, Paging, file_response, page_number

router = APIRouter(include_in_schema=False)
EXPORT_LIMIT = 100_000


def _member_name(name: str | None, key: str, lang: str) -> str:
    """The name the member shows on leaderboards; one who gave none by their account number."""
    return name or f"{translator(lang)('Person')} #{key}"


@router.get("/admin/orgs/{org_id}")
@html_errors
def overview(
    org_id: str,
    request: Request,
    done: str | None = None,
    scope: OperatorScope = Depends(org_scope),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    """The team's figures, its place among the scheme's organisations, the top members and the invite code."""
    _ = translator(lang)
    found = organisations.page(store, org_id, scope.scheme_id, board_size=10)
    top = found["board"]
    chart = (
        charts.bar_chart(
            [(_member_name(m.name, m.key, lang), m.carbon_g / 1000) for m in top],
            label=_("Leaderboard of members"),
            value_text=[f"{grams_as_kg(m.carbon_g)} kg" for m in top],
        )
        if top
        else ""
    )
    flash = {"code": _("A new invite code is ready; the old one no longer works.")}.get(done or "")
    return render(
        request,
        "org_admin.html",
        admin=scope,
        p=found,
        chart=chart,
        board=[(_member_name(m.name, m.key, lang), m.carbon_g) for m in top],
        average=found["carbon_g_total"] // found["members"] if found["members"] else 0,
        invite_code=organisations.invite_code(store, org_id, scope.scheme_id),
        flash=flash,
    )


@router.post("/admin/orgs/{org_id}/invite-code")
@html_errors
def renew_invite_code(
    org_id: str,
    request: Request,
    scope: OperatorScope = Depends(org_scope),
    f: dict[str, str] = Depends(checked_form),
    store: Store = Depends(store_of),
) -> Response:
    organisations.new_invite_code(store, org_id, scope.scheme_id, actor=audit.operator_actor(scope))
    return redirect(f"/admin/orgs/{org_id}?done=code")


@router.get("/admin/orgs/{org_id}/members")
@html_errors
def members(
    org_id: str,
    request: Request,
    done: str | None = None,
    scope: OperatorScope = Depends(org_scope),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    """Every member with their reduction, largest first, 50 a page, each with a button to remove them."""
    _ = translator(lang)
    found = organisations.page(store, org_id, scope.scheme_id, board_size=0)
    paging = Paging(page_number(request), PAGE_SIZE, found["members"], request.url.path)
    page = organisations.members_of(store, org_id, scope.scheme_id, PAGE_SIZE, paging.offset)
    rows = [(paging.offset + i, m.key, _member_name(m.name, m.key, lang), m.carbon_g) for i, m in enumerate(page, 1)]
    return render(
        request,
        "org_members.html",
        admin=scope,
        p=found,
        rows=rows,
        paging=paging,
        shown=paging.shown(lang, len(rows)),
        flash=_("The member was removed from the organisation.") if done == "removed" else None,
    )


@router.post("/admin/orgs/{org_id}/members/{account_id}/remove")
@html_errors
def remove_member(
    org_id: str,
    account_id: int,
    request: Request,
    scope: OperatorScope = Depends(org_scope),
    f: dict[str, str] = Depends(checked_form),
    store: Store = Depends(store_of),
) -> Response:
    organisations.remove_member(store, org_id, scope.scheme_id, account_id, actor=audit.operator_actor(scope))
    return redirect(f"/admin/orgs/{org_id}/members?done=removed")


@router.get("/admin/orgs/{org_id}/export/{name}")
@html_errors
def export_members(
    org_id: str,
    name: str,
    request: Request,
    scope: OperatorScope = Depends(org_scope),
    store: Store = Depends(store_of),
) -> Response:
    """The members' table (rank, account number, name shown, grams): the organisation's own data only."""
    if name not in ("members.csv", "members.xlsx"):
        raise NotFound("not_found")
    everyone = organisations.members_of(store, org_id, scope.scheme_id, EXPORT_LIMIT)
    rows: list[list[object]] = [[i, int(m.key), m.name or "", m.carbon_g] for i, m in enumerate(everyone, 1)]
    return file_response(f"{org_id}-{name}", ["rank", "account_id", "display_name", "carbon_g"], rows, name.rpartition(".")[2])
