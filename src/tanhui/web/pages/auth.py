"""The front door: the language switch, the home page, signing in by ticket or password, registering, signing out."""

from __future__ import annotations

from functools import partial
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from tanhui import sign_in
from tanhui.errors import TanhuiError
from tanhui.services import identity
from tanhui.services.identity import Principal
from tanhui.store import Store
from tanhui.web import security
from tanhui.web.deps import checked_form, person, store_of
from tanhui.web.i18n import translator
from tanhui.web.render import client_host, error_page, redirect, refused, render, web_lang

router = APIRouter(include_in_schema=False)


@router.get("/lang/{code}")
def switch_language(code: str, request: Request, next: str | None = None) -> Response:
    response = redirect(security.safe_next(next))
    if code in ("en", "zh-CN"):
        response.set_cookie(
            security.LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", secure=security.cookie_secure(request), path="/"
        )
    return response


@router.get("/")
def home(request: Request, who: Principal | None = Depends(person)) -> Response:
    if who is not None:
        return redirect("/me")
    return render(request, "home.html")


@router.get("/login/ticket/{ticket}")
def login_ticket(ticket: str, request: Request, store: Store = Depends(store_of)) -> Response:
    """A partner session's one-time login_url (api-v1.md): cookie session, then the account page."""
    who = identity.use_login_ticket(store, ticket)  # a partner's ticket: a session with that partner's scope
    if who is None:
        _ = translator(web_lang(request))
        return error_page(request, 401, _("This sign-in link has expired or was used already. Open Tanhui from your app again."))
    response = redirect("/me")
    security.start_session(request, response, identity.web_session(store, who))
    return response


def _login_form(
    request: Request, status: int = 200, error: str | None = None, form: dict[str, str] | None = None
) -> HTMLResponse:
    _ = translator(web_lang(request))
    next_ = security.safe_next(request.query_params.get("next"), "/me")
    return render(
        request,
        "login.html",
        status=status,
        title=_("Sign in"),
        button=_("Sign in"),
        error=error,
        form=form or {},
        action="/login?" + urlencode({"next": next_}),
        alt=f'<a href="/register">{_("No account yet? Register")}</a>',
        flash=_("Your new password is set. Sign in with it.") if request.query_params.get("reset") == "done" else None,
    )


@router.get("/login")
def login_page(request: Request) -> Response:
    return _login_form(request)


@router.post("/login")
async def login(request: Request, f: dict[str, str] = Depends(checked_form), store: Store = Depends(store_of)) -> Response:
    """Throttled per client and per username (tanhui/sign_in.py): 429 with Retry-After once over."""
    username, password = f.get("username", ""), f.get("password", "")
    try:
        account_id = await sign_in.guarded(
            sign_in.PEOPLE, client_host(request), username, partial(identity.authenticate, store, username, password)
        )
    except TanhuiError as error:
        form = _login_form(request, error.http_status, error.message(web_lang(request)), {"username": username})
        return refused(form, error)
    response = redirect(security.safe_next(request.query_params.get("next"), "/me"))
    security.start_session(request, response, await run_in_threadpool(identity.web_session, store, account_id))
    return response


def _register_form(
    request: Request, store: Store, status: int = 200, error: str | None = None, form: dict[str, str] | None = None
) -> HTMLResponse:
    _ = translator(web_lang(request))
    with store.unit_of_work(write=False) as uow:
        schemes = uow.schemes.list()
    return render(
        request,
        "login.html",
        status=status,
        title=_("Register"),
        button=_("Create my carbon account"),
        error=error,
        form=form or {"scheme": schemes[0].id if schemes else ""},
        schemes=schemes,
        action="/register",
        alt=f'<a href="/login">{_("Already registered? Sign in")}</a>',
    )


@router.get("/register")
def register_page(request: Request, store: Store = Depends(store_of)) -> Response:
    return _register_form(request, store)


@router.post("/register")
async def register_person(
    request: Request, f: dict[str, str] = Depends(checked_form), store: Store = Depends(store_of)
) -> Response:
    """Hashing the new password takes one of the process's few argon2 slots (tanhui/sign_in.py); a taken
    username counts as a failed sign-in of the client (it tells that the username exists)."""
    register = partial(
        identity.register, store, f.get("scheme", ""), f.get("username", ""), f.get("password", ""), f.get("display_name")
    )
    try:
        account_id = await sign_in.guarded(sign_in.REGISTRATION, client_host(request), None, register)
    except TanhuiError as error:
        kept = {k: f.get(k, "") for k in ("scheme", "username", "display_name")}
        form = await run_in_threadpool(_register_form, request, store, error.http_status, error.message(web_lang(request)), kept)
        return refused(form, error)
    response = redirect("/me")
    security.start_session(request, response, await run_in_threadpool(identity.web_session, store, account_id))
    return response


@router.post("/logout")
def logout(request: Request, f: dict[str, str] = Depends(checked_form), store: Store = Depends(store_of)) -> Response:
    token = security.session_token(request)
    if token:
        identity.end_web_session(store, token)
    response = redirect("/")
    response.delete_cookie(security.SESSION_COOKIE, path="/")
    return response
