"""Errors are values with machine codes; adapters render them (JSON body, CLI line, web page).

Hierarchy::

    TanhuiError                 code + params; message looked up in tanhui.messages
      ├── Unauthorised          no or bad credentials (HTTP 401)
      ├── Forbidden             signed in, but this session may not do this (HTTP 403)
      ├── NotFound              the object does not exist (or the caller may not see it)
      ├── Conflict              idempotency key reused with other content, duplicate ids
      ├── InvalidInput          bad input from a caller (field errors in ``details``)
      ├── TooManyAttempts       sign-ins refused for a while after repeated failures (HTTP 429)
      ├── BusinessRuleViolation insufficient balance, already reversed, ...
      └── ServiceUnavailable    the server cannot do it now or as configured (no secret key, a damaged database file, ...) (HTTP 503)
"""

from __future__ import annotations

from typing import Any

from tanhui.messages import render


class TanhuiError(Exception):
    """Base of every error an adapter may show to a person or a partner."""

    http_status = 400

    def __init__(self, code: str, details: dict[str, Any] | None = None, **params: Any) -> None:
        self.code = code
        self.params = params
        self.details = details or {}
        super().__init__(self.message("en"))

    def message(self, lang: str = "zh-CN") -> str:
        return render(self.code, lang, **self.params)

    def to_dict(self, lang: str = "zh-CN") -> dict[str, Any]:
        return {"code": self.code, "message": self.message(lang), "details": self.details}


class Unauthorised(TanhuiError):
    http_status = 401


class Forbidden(TanhuiError):
    http_status = 403


class NotFound(TanhuiError):
    http_status = 404


class Conflict(TanhuiError):
    http_status = 409


class InvalidInput(TanhuiError):
    http_status = 422


class TooManyAttempts(TanhuiError):
    """Too many failed sign-ins from one client or for one username: refused, even with the right
    password, for ``retry_after`` seconds (adapters send it as ``Retry-After``)."""

    http_status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("too_many_attempts", details={"retry_after": retry_after}, retry_after=retry_after)
        self.retry_after = retry_after


class BusinessRuleViolation(TanhuiError):
    http_status = 422


class ServiceUnavailable(TanhuiError):
    http_status = 503
