"""The dependencies page handlers declare instead of repeating: the store, the language, who is asking,
the operator's scope over the scheme in the URL, and the submitted form with its CSRF check.

A dependency that cannot let the page run raises `PageExit` carrying the answer to send instead (a
redirect to sign in, another scheme's 404, a refused form); `include_pages` registers `page_exit` to
send it. FastAPI resolves a handler's dependencies in the order it declares them, so handlers declare
who is asking (`signed_in`, `scheme_scope`) before the form (`checked_form`): a stranger is sent to
sign in before their form is looked at.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from fastapi import Depends, Request
from fastapi.responses import Response

from tanhui import messages
from tanhui.services import identity
from tanhui.services.identity import OperatorScope, Principal
from tanhui.store import Store
from tanhui.web import security
from tanhui.web.i18n import translator
from tanhui.web.render import csrf_refused, error_page, path_qs, redirect, web_lang


class PageExit(Exception):
    """The answer a dependency sends in place of the page."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def page_exit(request: Request, exit_: Exception) -> Response:
    assert isinstance(exit_, PageExit)
    return exit_.response


async def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


async def language(request: Request) -> str:
    return web_lang(request)


def person(request: Request, store: Store = Depends(store_of)) -> Principal | None:
    """Who is signed in (the account, and the partner when the session came from its login ticket), or None."""
    token = security.session_token(request)
    return identity.principal_for_web_session(store, token) if token else None


async def signed_in_as(request: Request, who: Principal | None = Depends(person)) -> Principal:
    """Who is signed in; a stranger is sent to sign in and brought back. Pages showing partner data
    pass this on, so a session from a partner's login ticket sees only that partner's part."""
    if who is None:
        raise PageExit(redirect("/login?" + urlencode({"next": path_qs(request)})))
    request.state.account_id = who.account_id  # the page's times are in this person's scheme's zone (web/times.py)
    return who


async def signed_in(who: Principal = Depends(signed_in_as)) -> int:
    """The signed-in person's account id (pages a partner's session may use like the person)."""
    return who.account_id


def operator(request: Request, store: Store = Depends(store_of)) -> OperatorScope | None:
    """The signed-in operator's scope (one scheme, one role), or None."""
    token = security.session_token(request, security.ADMIN_COOKIE)
    return identity.operator_scope(store, token, "web") if token else None


async def scheme_scope(request: Request, scheme_id: str, scope: OperatorScope | None = Depends(operator)) -> OperatorScope:
    """The operator's scope over the scheme in the URL; another scheme's pages do not exist for them (404)."""
    if scope is None:
        raise PageExit(redirect("/admin/login?" + urlencode({"next": path_qs(request)})))
    if scope.scheme_id != scheme_id or scope.organisation_id is not None or scope.role not in identity.ROLES:
        # another scheme's pages, and the scheme's pages for an organisation's administrator, do not exist for them
        raise PageExit(error_page(request, 404, translator(web_lang(request))("Not found"), admin=scope))
    return scope


async def org_scope(request: Request, org_id: str, scope: OperatorScope | None = Depends(operator)) -> OperatorScope:
    """An organisation administrator's scope over the organisation in the URL; any other organisation's
    pages, and these pages for anyone but its administrators (a scheme's operators too), do not exist (404)."""
    if scope is None:
        raise PageExit(redirect("/admin/login?" + urlencode({"next": path_qs(request)})))
    if scope.role != identity.ORG_ADMIN or scope.organisation_id != org_id:
        raise PageExit(error_page(request, 404, translator(web_lang(request))("Not found"), admin=scope))
    return scope


FORM_FIELDS_MAX = 50  # the largest of our forms has a dozen


async def form_fields(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the only kind our forms send)."""
    if request.method != "POST":
        return {}
    body = await request.body()
    try:
        parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=FORM_FIELDS_MAX)
    except ValueError:  # more fields than any of our forms has: refused before the CSRF check reads it
        raise PageExit(error_page(request, 413, messages.render("form_too_large", web_lang(request)))) from None
    return {k: v[0] for k, v in parsed.items()}


async def checked_form(request: Request, f: dict[str, str] = Depends(form_fields)) -> dict[str, str]:
    """The form, once its CSRF token matches the cookie's; otherwise the refusal page (403)."""
    if not security.csrf_ok(request, f.get("csrf")):
        raise PageExit(csrf_refused(request))
    return f


__all__ = [
    "OperatorScope",
    "PageExit",
    "checked_form",
    "form_fields",
    "language",
    "operator",
    "org_scope",
    "page_exit",
    "person",
    "scheme_scope",
    "signed_in",
    "signed_in_as",
    "store_of",
]
