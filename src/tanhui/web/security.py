"""Cookies and CSRF for the web pages.

* Sessions: the cookie carries a random server-side token (only its SHA-256 is stored: user_tokens
  kind ``web`` for people, operator_tokens kind ``web`` for operators), signed with itsdangerous so a
  tampered cookie is refused before any lookup. Signing out or erasure revokes the token at once.
  Cookies are ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` when the site is served over HTTPS.
* CSRF: double submit. Every page gets a signed random ``tanhui_csrf`` cookie; every POST form carries
  the same value in a hidden ``csrf`` field, compared in constant time. A cross-site form can neither
  read the cookie nor, with SameSite=Lax, send it on a POST.
* The signing key: ``TANHUI_SECRET_KEY``, else the file ``TANHUI_SECRET_KEY_FILE`` (default
  ``var/secret_key``), created once with mode 0600, so every worker process of one machine agrees.
"""

from __future__ import annotations

import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "tanhui_session"
ADMIN_COOKIE = "tanhui_admin"
CSRF_COOKIE = "tanhui_csrf"
LANG_COOKIE = "lang"
SESSION_MAX_AGE_S = 7 * 24 * 3600


@lru_cache(maxsize=1)
def secret_key() -> str:
    key = os.environ.get("TANHUI_SECRET_KEY")
    if key:
        return key
    path = Path(os.environ.get("TANHUI_SECRET_KEY_FILE", "var/secret_key"))
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another worker wrote it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(candidate)
        return candidate


def _serializer(salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key(), salt=salt)


def sign(value: str, salt: str) -> str:
    return str(_serializer(salt).dumps(value))


def unsign(raw: str | None, salt: str) -> str | None:
    if not raw:
        return None
    try:
        value = _serializer(salt).loads(raw)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = SESSION_MAX_AGE_S) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax", secure=request.url.scheme == "https", path="/"
    )


def session_token(request: Request, cookie: str = SESSION_COOKIE) -> str | None:
    return unsign(request.cookies.get(cookie), cookie)


def start_session(request: Request, response: Response, token: str, cookie: str = SESSION_COOKIE) -> None:
    set_cookie(request, response, cookie, sign(token, cookie))


def csrf_token(request: Request) -> str:
    """This browser's CSRF value (made on first use in the request; the page sets the cookie)."""
    existing = getattr(request.state, "csrf", None) or unsign(request.cookies.get(CSRF_COOKIE), CSRF_COOKIE)
    if existing is None:
        existing = secrets.token_urlsafe(24)
        request.state.csrf_new = True
    request.state.csrf = existing
    return str(existing)


def attach_csrf_cookie(request: Request, response: Response) -> None:
    if getattr(request.state, "csrf_new", False):
        set_cookie(request, response, CSRF_COOKIE, sign(request.state.csrf, CSRF_COOKIE), max_age=None)


def csrf_ok(request: Request, submitted: str | None) -> bool:
    expected = unsign(request.cookies.get(CSRF_COOKIE), CSRF_COOKIE)
    return bool(expected and submitted and hmac.compare_digest(expected, submitted))


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site (no scheme, no //host) may be a redirect target."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
