"""Password reset without e-mail or SMS (services/password_reset.py): the operator's page that issues a
one-time link and shows it once, and the person's page that sets the new password with it."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tanhui import messages
from tanhui.errors import InvalidInput, NotFound, TanhuiError
from tanhui.services import audit, password_reset
from tanhui.services.identity import OperatorScope
from tanhui.store import Store
from tanhui.web import security
from tanhui.web.deps import checked_form, scheme_scope, store_of
from tanhui.web.render import error_page, forbidden, html_errors, redirect, render, web_lang

router = APIRouter(include_in_schema=False)


def _hours(raw: str) -> timedelta:
    try:
        return timedelta(hours=int(raw or "24"))
    except ValueError:
        raise InvalidInput("invalid_reset_ttl", details={"hours": "1..168"}) from None


@router.get("/admin/schemes/{scheme_id}/password-reset")
@html_errors
def reset_links_page(scheme_id: str, request: Request, scope: OperatorScope = Depends(scheme_scope)) -> Response:
    """Only operators: a viewer may read the dashboard but not hand out a way into a person's account."""
    if scope.role != "operator":
        return forbidden(request, admin=scope)
    return render(request, "admin_reset.html", admin=scope)


@router.post("/admin/schemes/{scheme_id}/password-reset")
@html_errors
def issue_reset_link(
    scheme_id: str,
    request: Request,
    scope: OperatorScope = Depends(scheme_scope),
    f: dict[str, str] = Depends(checked_form),
    store: Store = Depends(store_of),
) -> Response:
    """The link is in this answer only (pages are `no-store`): it is shown once and kept nowhere."""
    if scope.role != "operator":
        return forbidden(request, admin=scope)
    username = f.get("username", "").strip()
    try:
        link = password_reset.issue(store, scheme_id, username, actor=audit.operator_actor(scope), ttl=_hours(f.get("hours", "")))
    except (InvalidInput, NotFound) as error:
        return render(request, "admin_reset.html", status=error.http_status, admin=scope, error=error.message(web_lang(request)))
    full = str(request.base_url).rstrip("/") + link.path
    return render(request, "admin_reset.html", admin=scope, link=full, username=username, expires_at=link.expires_at)


def _link_refused(request: Request) -> Response:
    return error_page(request, 401, messages.render("reset_link_invalid", web_lang(request)))


@router.get("/reset/{token}")
def reset_page(token: str, request: Request, store: Store = Depends(store_of)) -> Response:
    """Looking at the form does not use the link; only setting the password does."""
    if not password_reset.link_works(store, token):
        return _link_refused(request)
    return render(request, "reset.html", action=f"/reset/{token}")


@router.post("/reset/{token}")
def reset_password(
    token: str, request: Request, f: dict[str, str] = Depends(checked_form), store: Store = Depends(store_of)
) -> Response:
    lang = web_lang(request)
    password = f.get("password", "")
    try:
        if password != f.get("confirm", ""):
            raise InvalidInput("passwords_differ", details={"confirm": "differs"})
        password_reset.complete(store, token, password)
    except InvalidInput as error:  # the link is still unused: the person tries again
        return render(request, "reset.html", status=422, action=f"/reset/{token}", error=error.message(lang))
    except TanhuiError:
        return _link_refused(request)
    response = redirect("/login?reset=done")
    response.delete_cookie(security.SESSION_COOKIE, path="/")  # its session ended with the old password
    return response
