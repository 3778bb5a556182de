"""Organisations: a person's organisations and leaderboards, and the operator's organisation pages
(the list, creating one, the employer's "employee carbon account" view)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tanhui.domain.leaderboard import PERIODS, check_period
from tanhui.errors import InvalidInput
from tanhui.services import accounts, audit, organisations, ranking
from tanhui.services.clock import utcnow
from tanhui.services.identity import OperatorScope
from tanhui.store import Store
from tanhui.web import charts, security, times
from tanhui.web.deps import checked_form, language, scheme_scope, signed_in, store_of
from tanhui.web.i18n import label, translator
from tanhui.web.names import mask_name
from tanhui.web.render import ENV, forbidden, grams_as_kg, html_errors, own, redirect, web_lang
from tanhui.web.tables import organisation_rows, table_page

router = APIRouter(include_in_schema=False)

_CREATE_FORM = ENV.from_string(
    '<form method="post" action="/admin/schemes/{{ s }}/organisations" class="card row mb-1">'
    '<input type="hidden" name="csrf" value="{{ csrf }}">'
    '<div class="grow-2"><label for="name">{{ _("Name") }}</label><input id="name" name="name" type="text" required maxlength="200"></div>'
    '<div class="grow-1"><label for="kind">{{ _("Kind") }}</label><select id="kind" name="kind">{% for k in kinds %}<option value="{{ k }}">{{ label("org_kind", k) }}</option>{% endfor %}</select></div>'
    '<div><button type="submit">{{ _("Create organisation") }}</button></div></form>'
)


def _masked(name: str | None, key: str, lang: str) -> str:
    """Leaderboards show a first character and a mask, never a full name (the brief: can hide individuals)."""
    return mask_name(name) or ("Member " if lang == "en" else "成员 ") + key[-4:]


# -- a person's organisations -------------------------------------------------------------------


@router.get("/orgs")
@html_errors
def orgs_page(
    request: Request,
    error: str | None = None,
    account_id: int = Depends(signed_in),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    scheme_id = accounts.scheme_of(store, account_id)
    board = organisations.scheme_board(store, scheme_id)
    top = board[:10]
    chart = (
        charts.bar_chart(
            [(o.name or o.key, o.carbon_g / 1000) for o in top],
            label=translator(lang)("Organisations in the scheme"),
            value_text=[f"{grams_as_kg(o.carbon_g)} kg" for o in top],
        )
        if top
        else ""
    )
    places = {o.key: i for i, o in enumerate(board, 1)}  # the organisation's own place, apart from mine in it
    mine = [{**o, "place": places.get(o["organisation_id"])} for o in organisations.of_account(store, account_id)]
    my_keys = {o["organisation_id"] for o in mine}
    return own(request, "orgs.html", mine=mine, my_keys=my_keys, board=board, chart=chart, error=error)


@router.post("/orgs/join")
@html_errors
def join(
    request: Request,
    account_id: int = Depends(signed_in),
    f: dict[str, str] = Depends(checked_form),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    try:
        org = organisations.join(store, account_id, f.get("invite_code", ""))
    except InvalidInput as error:
        return orgs_page(request=request, error=error.message(lang), account_id=account_id, lang=lang, store=store)
    return redirect(f"/orgs/{org.public_id}")


@router.get("/orgs/{org_id}")
@html_errors
def org_page(
    org_id: str,
    request: Request,
    period: str | None = None,
    account_id: int = Depends(signed_in),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    """An organisation's page: its place among the scheme's organisations, and the members' board of
    this week, this month or all time with my own line (below the top when I am further down)."""
    chosen = check_period(period)
    scheme_id = accounts.scheme_of(store, account_id)
    found = organisations.page(store, org_id, scheme_id)
    today = utcnow().astimezone(times.for_request(request, lang).zone).date()
    board = organisations.member_board(store, org_id, scheme_id, account_id, chosen, today)

    names = {line.key: _masked(line.name, line.key, lang) for line in (*board.top, *([board.mine] if board.mine else []))}
    top = board.top[:10]
    chart = (
        charts.bar_chart(
            [(names[line.key], line.carbon_g / 1000) for line in top],
            label=translator(lang)("Leaderboard of members"),
            value_text=[f"{grams_as_kg(line.carbon_g)} kg" for line in top],
        )
        if top
        else ""
    )
    return own(
        request,
        "org.html",
        p=found,
        board=board,
        names=names,
        place_words="My place among the members: No. {n} of {people}",
        who_words="Member",
        period=chosen,
        periods=PERIODS,
        chart=chart,
    )


@router.get("/board")
@html_errors
def scheme_board_page(
    request: Request,
    period: str | None = None,
    account_id: int = Depends(signed_in),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    """The scheme's people by reduction of this week, this month or all time, with my own line (below the
    top when I am further down): a board for everyone, in an organisation or not."""
    chosen = check_period(period)
    today = utcnow().astimezone(times.for_request(request, lang).zone).date()
    board = ranking.people_board(store, accounts.scheme_of(store, account_id), account_id, chosen, today)
    names = {line.key: mask_name(line.name) or "—" for line in (*board.top, *([board.mine] if board.mine else []))}
    return own(
        request,
        "board.html",
        board=board,
        names=names,
        period=chosen,
        periods=PERIODS,
        chart="",
        place_words="My place in the scheme: No. {n} of {people}",
        who_words="Person",
    )


# -- the operator's organisation pages -----------------------------------------------------------


@router.get("/admin/schemes/{scheme_id}/organisations")
@html_errors
def scheme_orgs_page(
    scheme_id: str,
    request: Request,
    error: str | None = None,
    scope: OperatorScope = Depends(scheme_scope),
    store: Store = Depends(store_of),
) -> Response:
    _ = translator(web_lang(request))
    form = None
    if scope.role == "operator":
        form = _CREATE_FORM.render(
            s=scheme_id, csrf=security.csrf_token(request), _=_, label=label(web_lang(request)), kinds=organisations.KINDS
        )
    rows = organisation_rows(store, scheme_id, scope, web_lang(request))
    return table_page(
        request,
        scope,
        _("Organisations"),
        "organisations",
        ["organisation", "name", "kind", "members", "kg", "invite_code"],
        rows,
        form=form,
        error=error,
        links={"name": "href"},
        numeric=("members", "kg"),
    )


@router.post("/admin/schemes/{scheme_id}/organisations")
@html_errors
def create_org(
    scheme_id: str,
    request: Request,
    scope: OperatorScope = Depends(scheme_scope),
    f: dict[str, str] = Depends(checked_form),
    store: Store = Depends(store_of),
) -> Response:
    if scope.role != "operator":
        return forbidden(request, admin=scope)
    try:
        org = organisations.create(
            store, scheme_id, f.get("name", ""), f.get("kind", "company"), actor=audit.operator_actor(scope)
        )
    except InvalidInput as error:
        return scheme_orgs_page(
            scheme_id=scheme_id, request=request, error=error.message(web_lang(request)), scope=scope, store=store
        )
    return redirect(f"/admin/schemes/{scheme_id}/organisations/{org.public_id}")


@router.get("/admin/schemes/{scheme_id}/organisations/{org_id}")
@html_errors
def employee_accounts(
    scheme_id: str, org_id: str, request: Request, scope: OperatorScope = Depends(scheme_scope), store: Store = Depends(store_of)
) -> Response:
    """The employer's "employee carbon account" view: every member and their reduction."""
    _ = translator(web_lang(request))
    found = organisations.page(store, org_id, scheme_id)
    members = organisations.members_of(store, org_id, scheme_id)
    # the member's name; one who gave none by their number (an employer cannot tell them apart otherwise)
    rows = [
        {"#": i, "member": m.name or f"{_('Person')} #{m.key}", "kg": grams_as_kg(m.carbon_g)} for i, m in enumerate(members, 1)
    ]
    org = found["organisation"]
    title = f"{org.name} · {_('Employee carbon accounts')} · {found['members']} · {grams_as_kg(found['carbon_g_total'])} kg CO₂e"
    code = organisations.invite_code(store, org_id, scheme_id)
    return table_page(
        request,
        scope,
        title,
        None,
        ["#", "member", "kg"],
        rows,
        numeric=("#", "kg"),
        flash=f"{_('Invite code')}: {code}" if scope.role == "operator" else None,
    )
