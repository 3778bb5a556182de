"""The operator dashboard: sign-in, the catalog, the audit log and the exports.

Every page under /admin/schemes/{scheme_id} checks the scheme in the URL against the operator's scope
(deps.scheme_scope) and answers 404 for any other scheme. The overview is in dashboard.py, the review
queue in review.py, the orders in fulfilment.py, the organisation pages in organisations.py.
"""

from __future__ import annotations

from functools import partial
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from tanhui import sign_in
from tanhui.errors import NotFound, TanhuiError
from tanhui.services import identity
from tanhui.services.identity import OperatorScope
from tanhui.store import Store
from tanhui.web import security, times
from tanhui.web.deps import checked_form, language, operator, scheme_scope, store_of
from tanhui.web.i18n import label, translator
from tanhui.web.render import (
    client_host,
    forbidden,
    html_errors,
    redirect,
    refused,
    render,
    web_lang,
)
from tanhui.web.tables import (
    EXPORT_TABLES,
    PERSONAL_TABLES,
    audit_rows,
    catalog_rows,
    export_rows,
    file_response,
    page_number,
    table_page,
)

router = APIRouter(include_in_schema=False)


@router.get("/admin")
def admin_home(request: Request, scope: OperatorScope | None = Depends(operator)) -> Response:
    return redirect(home_of(scope) if scope else "/admin/login")


def home_of(scope: OperatorScope) -> str:
    """Where an operator starts: the scheme's dashboard, or an organisation administrator's organisation."""
    return f"/admin/orgs/{scope.organisation_id}" if scope.organisation_id else f"/admin/schemes/{scope.scheme_id}"


def _admin_login_form(request: Request, status: int = 200, error: str | None = None, username: str = "") -> HTMLResponse:
    _ = translator(web_lang(request))
    next_ = security.safe_next(request.query_params.get("next"), "/admin")
    return render(
        request,
        "login.html",
        status=status,
        title=_("Operator sign-in"),
        button=_("Sign in"),
        error=error,
        form={"username": username},
        action="/admin/login?" + urlencode({"next": next_}),
        alt=None,
    )


@router.get("/admin/login")
def admin_login_page(request: Request) -> Response:
    return _admin_login_form(request)


@router.post("/admin/login")
async def admin_login(request: Request, f: dict[str, str] = Depends(checked_form), store: Store = Depends(store_of)) -> Response:
    """Throttled per client and per operator username (tanhui/sign_in.py): 429 with Retry-After once over."""
    username, password = f.get("username", ""), f.get("password", "")
    try:
        token, scope = await sign_in.guarded(
            sign_in.OPERATORS, client_host(request), username, partial(identity.operator_sign_in, store, username, password)
        )
    except TanhuiError as error:
        return refused(_admin_login_form(request, error.http_status, error.message(web_lang(request)), username), error)
    target = security.safe_next(request.query_params.get("next"), "/admin")
    response = redirect(target if target.startswith(("/admin/schemes/", "/admin/orgs/")) else home_of(scope))
    security.start_session(request, response, token, security.ADMIN_COOKIE)
    return response


@router.post("/admin/logout")
def admin_logout(request: Request, f: dict[str, str] = Depends(checked_form), store: Store = Depends(store_of)) -> Response:
    token = security.session_token(request, security.ADMIN_COOKIE)
    if token:
        identity.end_operator_session(store, token)
    response = redirect("/admin/login")
    response.delete_cookie(security.ADMIN_COOKIE, path="/")
    return response


@router.get("/admin/schemes/{scheme_id}/catalog")
@html_errors
def catalog_page(
    scheme_id: str,
    request: Request,
    scope: OperatorScope = Depends(scheme_scope),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    _ = translator(lang)
    return table_page(
        request,
        scope,
        _("Catalog"),
        "catalog",
        ["item", "title", "category", "kind", "points", "stock", "merchant", "status"],
        catalog_rows(store, scheme_id, lang),
        numeric=("points", "stock"),
    )


@router.get("/admin/schemes/{scheme_id}/audit")
@html_errors
def audit_page(
    scheme_id: str,
    request: Request,
    action: str | None = None,
    scope: OperatorScope = Depends(scheme_scope),
    lang: str = Depends(language),
    store: Store = Depends(store_of),
) -> Response:
    """Who did what to this scheme, newest first; viewers may read it (it holds ids, never personal data)."""
    _ = translator(lang)
    base = f"/admin/schemes/{scheme_id}/audit"
    filters = (
        [(base, _("All"), False), (request.url.path + "?" + request.url.query, label(lang)("action", action), True)]
        if action
        else None
    )
    rows, total = audit_rows(
        store, scheme_id, action, lang, base, times.for_request(request, lang, scheme_id), page_number(request)
    )
    return table_page(
        request,
        scope,
        _("Audit log"),
        None,
        ["time", "actor", "action", "target", "details"],
        rows,
        total=total,
        filters=filters,
        links={"action": "href"},
        nowrap=("actor", "action"),
    )


@router.get("/admin/schemes/{scheme_id}/export/{name}")
@html_errors
def export_table(
    scheme_id: str, name: str, request: Request, scope: OperatorScope = Depends(scheme_scope), store: Store = Depends(store_of)
) -> Response:
    table, _dot, fmt = name.rpartition(".")
    if table not in EXPORT_TABLES or fmt not in ("csv", "xlsx"):
        raise NotFound("not_found")
    if table in PERSONAL_TABLES and scope.role != "operator":
        return forbidden(request, admin=scope)
    header, rows = export_rows(store, scheme_id, table, request.query_params.get("from"), request.query_params.get("to"))
    return file_response(f"{scheme_id}-{table}.{fmt}", header, rows, fmt)
