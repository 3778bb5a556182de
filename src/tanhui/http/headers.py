"""Security headers on every response, pages, API and downloads alike (issue 18, finding 12).

* ``Content-Security-Policy``: HTML pages load styles and images from this site only and run no script
  at all (the pages have none; charts are inline SVG), so an injected ``<script>`` or a stray inline
  style does nothing. Other responses (JSON, CSV, XLSX) get ``default-src 'none'``: opened in a tab,
  they cannot load or run anything. The API docs (``/docs``, ``/redoc``) are FastAPI's pages with
  inline bootstrap scripts: their policy allows exactly those scripts by SHA-256, computed from the
  bytes sent, and nothing else inline.
* ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY``: no page can be framed (clickjacking).
* ``X-Content-Type-Options: nosniff`` and ``Referrer-Policy: no-referrer`` (a login ticket is in a
  path; no URL of ours leaves in a Referer).
* ``Cache-Control: no-store`` on every answer that does not set its own, except the static files:
  personal pages, operator pages, exports and tokens stay out of browser and proxy caches, and a
  new page or export cannot forget it.

A pure ASGI middleware (no buffering, except the two small docs pages whose scripts are hashed).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from typing import Any

PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"
# a PDF is shown by the browser's viewer, which default-src 'none' (object-src) would block
PDF_POLICY = "frame-ancestors 'none'"
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; worker-src 'self' blob:; font-src 'self' data:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
ALWAYS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
CACHEABLE_PREFIXES = ("/static/", "/static-offline-docs/")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


def script_hashes(html: bytes) -> list[str]:
    """CSP source expressions for every inline script of a page."""
    return [f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'" for body in _INLINE_SCRIPT.findall(html)]


def _policy(content_type: bytes) -> bytes:
    kind = content_type.split(b";")[0].strip().lower()
    if kind == b"text/html":
        return PAGE_POLICY.encode()
    if kind == b"application/pdf":
        return PDF_POLICY.encode()
    return OTHER_POLICY.encode()


def _with_headers(headers: Iterable[tuple[bytes, bytes]], path: str, policy: bytes | None) -> list[tuple[bytes, bytes]]:
    out = [(k, v) for k, v in headers if k.lower() not in {b"x-frame-options", b"x-content-type-options", b"referrer-policy"}]
    names = {k.lower() for k, _ in out}
    content_type = next((v for k, v in out if k.lower() == b"content-type"), b"")
    if b"content-security-policy" not in names:
        out.append((b"content-security-policy", policy or _policy(content_type)))
    out.extend(ALWAYS)
    if b"cache-control" not in names and not path.startswith(CACHEABLE_PREFIXES):
        out.append((b"cache-control", b"no-store"))
    return out


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: Any, docs_paths: Iterable[str] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(p for p in docs_paths if p)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        if path in self.docs_paths:
            await self._docs(scope, receive, send, path)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _with_headers(message.get("headers") or (), path, None)}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: dict[str, Any], receive: Any, send: Any, path: str) -> None:
        """The docs pages are small: held whole, so their inline scripts can be hashed into the policy."""
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def held(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            policy = DOCS_POLICY.format(hashes=" ".join(script_hashes(body))).encode()
            await send({**start, "headers": _with_headers(start.get("headers") or (), path, policy)})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, held)
