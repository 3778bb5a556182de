"""Every non-2xx response: {"error": {"code", "message", "details"}} in zh-CN or English."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from tanhui.lang import request_lang as request_lang  # re-exported: http code imports it from here
from tanhui.messages import render


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
