"""Errors a browser meets are pages: a bad address, a bad parameter, a refusal or a failure outside a
page handler (an unknown URL, FastAPI's validation, a missing registry batch, an unexpected exception)
answer with the site's header, navigation and language instead of the API's JSON body.

The JSON API owns the exception handlers (http/errors.py) and the web may not import it; `install` wraps
whatever handlers the app has, so each keeps deciding the status, the message and the logging, and a
browser's request gets that status and message as a page. JSON stays for `/v1`, the operations endpoints,
and any request that prefers `application/json` (a client asking with `Accept: application/json`).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tanhui.web.render import error_page, page_words

Handler = Callable[[Request, Exception], Awaitable[Response] | Response]
JSON_PATHS = ("/v1/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc", "/static/")
KEPT_HEADERS = ("retry-after", "www-authenticate")


def _quality(accept: str, media: str) -> float:
    """The q of a media type in an Accept header (0 when absent; wildcards do not count)."""
    for part in accept.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        if name.lower() == media:
            for p in params:
                key, _eq, value = p.partition("=")
                if key.strip() == "q":
                    try:
                        return float(value)
                    except ValueError:
                        return 0.0
            return 1.0
    return 0.0


def wants_page(request: Request) -> bool:
    """A browser's navigation: not an API path, and text/html asked for at least as much as JSON."""
    path = request.url.path
    if path == "/v1" or path.startswith(JSON_PATHS):
        return False
    accept = request.headers.get("accept", "")
    html = _quality(accept, "text/html")
    return html > 0 and html >= _quality(accept, "application/json")


def _as_page(request: Request, response: Response) -> Response:
    try:
        body = json.loads(bytes(response.body))
        error = body.get("error", {}) if isinstance(body, dict) else {}
    except ValueError:
        error = {}
    status = response.status_code
    message = page_words(request, status, error.get("code"), str(error.get("message") or ""))
    page = error_page(request, status, message)
    for name in KEPT_HEADERS:
        if name in response.headers:
            page.headers[name] = response.headers[name]
    return page


def _safe_page(request: Request, response: Response) -> Response:
    try:
        return _as_page(request, response)
    except Exception:  # a page that cannot render (the store is down): the JSON answer still goes out
        return response


def _wrapped(handler: Handler) -> Handler:
    async def handle(request: Request, error: Exception) -> Response:
        answer = handler(request, error)
        response: Response = await answer if inspect.isawaitable(answer) else answer
        if response.media_type != "application/json" or not wants_page(request):
            return response
        return await run_in_threadpool(_safe_page, request, response)

    return handle


def install(app: FastAPI) -> None:
    """Wrap every exception handler the app has so far (once, by include_pages)."""
    for key, handler in list(app.exception_handlers.items()):
        app.exception_handlers[key] = _wrapped(handler)
