"""Every non-2xx response: {"error": {"code", "message", "details"}} in zh-CN or English.

`install(app)` adds the exception handlers that turn errors raised anywhere below a route (services'
TanhuiError, FastAPI's validation, Starlette's 404/405, a partner over its rate, a batch over its size,
anything unexpected) into that body.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tanhui.domain.events import BATCH_SIZE_MAX
from tanhui.errors import TanhuiError, TooManyAttempts
from tanhui.lang import request_lang
from tanhui.messages import render

log = logging.getLogger("tanhui.http")


class RateLimited(Exception):
    """A partner over its request rate (429 with Retry-After)."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after


class PayloadTooLarge(Exception):
    """An events batch over BATCH_SIZE_MAX (413)."""

    def __init__(self, what: str) -> None:
        self.what = what


def error_response(
    request: Request,
    status: int,
    code: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **params: Any,
) -> JSONResponse:
    body = {"error": {"code": code, "message": render(code, request_lang(request), **params), "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


async def tanhui_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, TanhuiError)
    headers = {"WWW-Authenticate": "Bearer"} if error.code == "unauthorised" else None
    if isinstance(error, TooManyAttempts):
        headers = {"Retry-After": str(error.retry_after)}
    return error_response(request, error.http_status, error.code, error.details, headers, **error.params)


async def validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    details = {".".join(str(p) for p in e["loc"]): e["type"] for e in error.errors()}
    return error_response(request, 422, "invalid_request", details)


async def http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "invalid_request")
    return error_response(request, error.status_code, code)


async def rate_limited(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RateLimited)
    return error_response(
        request,
        429,
        "rate_limited",
        {"retry_after": error.retry_after},
        {"Retry-After": str(error.retry_after)},
        retry_after=error.retry_after,
    )


async def payload_too_large(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PayloadTooLarge)
    return error_response(request, 413, "payload_too_large", {"events_max": BATCH_SIZE_MAX}, what=error.what)


async def unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "internal_error")


def install(app: FastAPI) -> None:
    """Register the handlers above (once, by create_app)."""
    app.add_exception_handler(TanhuiError, tanhui_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
    app.add_exception_handler(RateLimited, rate_limited)
    app.add_exception_handler(PayloadTooLarge, payload_too_large)
