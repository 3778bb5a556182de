"""Cookies and CSRF for the web pages.

* Sessions: the cookie carries a random server-side token (only its SHA-256 is stored: user_tokens
  kind ``web`` for people, operator_tokens kind ``web`` for operators), signed with itsdangerous so a
  tampered cookie is refused before any lookup. Signing out or erasure revokes the token at once.
  Cookies are ``HttpOnly``, ``SameSite=Lax`` and ``Secure`` when the site is served over HTTPS: TLS in
  ``tanhui serve --certfile/--keyfile``, or ``X-Forwarded-Proto: https`` from a proxy uvicorn trusts
  (``--forwarded-allow-ips``), or ``TANHUI_COOKIE_SECURE=1`` (docs/operations.md, "TLS").
* CSRF: a synchronizer token bound to the session the form acts in (issue 18, finding 13). A form's
  ``csrf`` field is an HMAC, under the secret key, of that session's token: the operator's session on
  ``/admin`` paths, the person's elsewhere, and before any sign-in a random value kept in the signed
  ``tanhui_csrf`` cookie. So a token read from one session is refused in any other, and signing in
  (which makes a new session token and a new random value) retires every token issued before it.
  SameSite=Lax keeps the cookies off cross-site POSTs as a second line.
* The signing key: ``TANHUI_SECRET_KEY``, else the file ``TANHUI_SECRET_KEY_FILE`` (default
  ``var/secret_key``), created once with mode 0600, so every worker process of one machine agrees.
"""

from __future__ import annotations

import base64
import hashlib
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
ADMIN_PREFIX = "/admin"
_TRUE = {"1", "true", "yes", "on"}


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


def cookie_secure(request: Request) -> bool:
    """Whether cookies get the Secure flag: the request came over HTTPS (uvicorn sets the scheme from TLS,
    or from a trusted proxy's X-Forwarded-Proto), or TANHUI_COOKIE_SECURE says the site is HTTPS-only."""
    return request.url.scheme == "https" or os.environ.get("TANHUI_COOKIE_SECURE", "").strip().lower() in _TRUE


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = SESSION_MAX_AGE_S) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=cookie_secure(request), path="/")


def session_token(request: Request, cookie: str = SESSION_COOKIE) -> str | None:
    return unsign(request.cookies.get(cookie), cookie)


def start_session(request: Request, response: Response, token: str, cookie: str = SESSION_COOKIE) -> None:
    """The session cookie after a sign-in, and a new pre-sign-in CSRF value: no form token from before
    the sign-in works after it (nor after the sign-out that follows)."""
    set_cookie(request, response, cookie, sign(token, cookie))
    set_cookie(request, response, CSRF_COOKIE, sign(secrets.token_urlsafe(24), CSRF_COOKIE), max_age=None)


def _csrf_binding(request: Request, *, create: bool) -> str | None:
    """The session a form on this path acts in: the operator's under /admin, the person's elsewhere; with
    neither, this browser's random pre-sign-in value (made on first use when `create`; the page then
    sets its cookie)."""
    operator_path = request.url.path == ADMIN_PREFIX or request.url.path.startswith(ADMIN_PREFIX + "/")
    realm, cookie = ("operator", ADMIN_COOKIE) if operator_path else ("person", SESSION_COOKIE)
    token = session_token(request, cookie)
    if token:
        return f"{realm}\n{token}"
    anonymous = getattr(request.state, "csrf_anonymous", None) or unsign(request.cookies.get(CSRF_COOKIE), CSRF_COOKIE)
    if anonymous is None:
        if not create:
            return None
        anonymous = secrets.token_urlsafe(24)
        request.state.csrf_new = True
    request.state.csrf_anonymous = anonymous
    return f"anonymous\n{anonymous}"


def _mac(binding: str) -> str:
    mac = hmac.new(secret_key().encode(), b"tanhui-csrf\n" + binding.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def csrf_token(request: Request) -> str:
    """The CSRF value for this request's forms: an HMAC of the session it is bound to."""
    binding = _csrf_binding(request, create=True)
    assert binding is not None
    return _mac(binding)


def attach_csrf_cookie(request: Request, response: Response) -> None:
    if getattr(request.state, "csrf_new", False):
        set_cookie(request, response, CSRF_COOKIE, sign(request.state.csrf_anonymous, CSRF_COOKIE), max_age=None)


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """The submitted value is the one this session's forms carry (compared in constant time)."""
    binding = _csrf_binding(request, create=False)
    return bool(binding and submitted and hmac.compare_digest(_mac(binding).encode(), submitted.encode("utf-8", "replace")))


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site (no scheme, no //host) may be a redirect target."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
