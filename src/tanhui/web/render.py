"""What every page shares: the Jinja2 environment, rendering, error pages, redirects and number formats."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tanhui import messages
from tanhui.errors import TanhuiError, TooManyAttempts
from tanhui.lang import request_lang
from tanhui.services import identity
from tanhui.web import security, times
from tanhui.web.i18n import label, scenario_name, translator
from tanhui.web.labels import methodology_name

HERE = Path(__file__).parent
ENV = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True), auto_reload=False)


def grams_as_kg(grams: int) -> str:
    """Integer grams shown as kilograms with three decimals, without a float in between."""
    sign = "-" if grams < 0 else ""
    whole, rest = divmod(abs(grams), 1000)
    return f"{sign}{whole:,}.{rest:03d}"


def grams_as_tonnes(grams: int) -> str:
    kg = (abs(grams) + 500) // 1000
    return f"{'-' if grams < 0 else ''}{kg // 1000:,}.{kg % 1000:03d}"


def web_lang(request: Request) -> str:
    """The `lang` cookie set by the switch link, else Accept-Language, else zh-CN."""
    chosen = request.cookies.get(security.LANG_COOKIE)
    if chosen in ("en", "zh-CN"):
        return chosen
    return request_lang(request)


def path_qs(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = web_lang(request)
    context.setdefault("admin", None)
    context.setdefault("signed_in", False)
    admin = context["admin"]
    html = ENV.get_template(name).render(
        when=times.for_request(request, lang, admin.scheme_id if admin else None),
        _=translator(lang),
        lang=lang,
        csrf=security.csrf_token(request),
        path=request.url.path,
        path_qs=path_qs(request),
        kg=grams_as_kg,
        tonnes=grams_as_tonnes,
        scenario=scenario_name(lang),
        label=label(lang),
        methodology=lambda ref: methodology_name(ref, lang),
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    security.attach_csrf_cookie(request, response)
    return response


def own(request: Request, name: str, **context: Any) -> HTMLResponse:
    """A page of the signed-in person (the header shows their menu)."""
    return render(request, name, signed_in=True, **context)


def error_page(request: Request, status: int, message: str, **context: Any) -> HTMLResponse:
    _ = translator(web_lang(request))
    heading = {
        404: _("Not found"),
        401: _("Please sign in"),
        403: _("Not allowed"),
        422: _("This cannot be used"),
        429: _("Too many requests"),
    }.get(status, _("Something went wrong"))
    if "admin" not in context and request.url.path.startswith("/admin"):
        context["admin"] = _operator_of(request)  # a dashboard's error keeps the dashboard's menu
    context.setdefault("signed_in", context.get("admin") is None and security.session_token(request) is not None)
    return render(request, "error.html", status=status, heading=heading, message=message, **context)


def _operator_of(request: Request) -> Any:
    token = security.session_token(request, security.ADMIN_COOKIE)
    if token is None:
        return None
    try:
        return identity.operator_scope(request.app.state.store, token, "web")
    except Exception:  # the error page must render even when the store is what failed
        return None


def page_words(request: Request, status: int, code: str | None, message: str) -> str:
    """What a person reads for an error: the API's message, except where it speaks of paths and requests."""
    _ = translator(web_lang(request))
    if code == "not_found":  # no such address: the router's words are about paths, a person's about pages
        return _("There is no page at this address. Check the address, or start again from the menu.")
    if code == "invalid_request" and status == 422:
        return _("The address or the form holds a value this page cannot use.")
    if status >= 500:
        return _("Something went wrong on our side. Please try again in a moment.")
    return message


P = ParamSpec("P")


def html_errors(function: Callable[P, Response]) -> Callable[P, Response]:
    """A page handler's TanhuiError becomes an HTML page with the error's status and words."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        request = kwargs["request"]  # FastAPI passes every parameter by name
        if not isinstance(request, Request):
            raise TypeError(f"{function.__name__} must take the request as `request`")
        try:
            return function(*args, **kwargs)
        except TanhuiError as error:
            words = page_words(request, error.http_status, error.code, error.message(web_lang(request)))
            scope = kwargs.get("scope")  # an operator's page keeps the dashboard's menu
            return error_page(request, error.http_status, words, **({"admin": scope} if scope is not None else {}))

    return wrapper


def client_host(request: Request) -> str | None:
    """The client's address as uvicorn reports it (a trusted proxy's X-Forwarded-For already applied)."""
    return request.client.host if request.client else None


def refused(response: Response, error: TanhuiError) -> Response:
    """A form page answering a refused sign-in; a throttled one says when to retry (Retry-After)."""
    if isinstance(error, TooManyAttempts):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def redirect(target: str) -> RedirectResponse:
    return RedirectResponse(target, status_code=303)


def csrf_refused(request: Request) -> HTMLResponse:
    return error_page(request, 403, messages.render("csrf_failed", web_lang(request)))


def forbidden(request: Request, **context: Any) -> HTMLResponse:
    return error_page(request, 403, messages.render("forbidden", web_lang(request)), **context)
