"""Request limits enforced before any work: the body size (the partner rate is services/rates.py)."""

from __future__ import annotations

import json
import logging
from typing import Any

from tanhui.messages import render

log = logging.getLogger("tanhui.http")

BODY_BYTES_MAX = 4 * 1024 * 1024  # 1,000 events of ~1 KB each, with room to spare


class BodySizeLimit:
    """ASGI middleware: a body larger than the limit gets 413 before the app reads it whole.

    A declared Content-Length is refused at once; a chunked body is counted as it arrives, and once over
    the limit the client gets the 413 and the app sees the client gone (its own answer is dropped).
    An error the app raises after its answer was sent (Starlette re-raises what its 500 handler
    answered) stops here, so the server does not drop the keep-alive connection for it.
    """

    def __init__(self, app: Any, max_bytes: int = BODY_BYTES_MAX) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        seen = 0
        started = refused = complete = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    if not started:
                        await self._refuse(scope, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            nonlocal started, complete
            if refused and not started:
                return  # the 413 went out instead
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception as error:
            if not (refused or complete):
                raise
            # answered (413, or the app's own 500 after errors.unexpected logged it): noted, not re-raised
            log.debug("error after the answer was sent: %r", error)

    async def _refuse(self, scope: dict[str, Any], send: Any) -> None:
        lang = "zh-CN"
        for key, value in scope.get("headers") or []:
            if key == b"accept-language" and value.decode("latin-1").lower().startswith("en"):
                lang = "en"
        what = f"> {self.max_bytes} bytes"
        body = json.dumps(
            {
                "error": {
                    "code": "payload_too_large",
                    "message": render("payload_too_large", lang, what=what),
                    "details": {"max_bytes": self.max_bytes},
                }
            },
            ensure_ascii=False,
        ).encode("utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
