"""The request-id middleware (the endpoints /healthz, /readyz and /metrics are http/operations.py).

* ``RequestObservability``: a pure ASGI middleware, the outermost layer of the app. It gives every
  request an id (a client's ``X-Request-ID`` when it is a safe token, else a new one), returns it in
  the ``X-Request-ID`` response header, times the request into the latency histogram, keeps the
  in-flight gauge, counts partner authentication failures by code, and writes one JSON log line per
  request. The line holds the route *template* (never the raw path, which carries user_refs and
  login tickets), never the query string, headers or body.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import iter_route_contexts
from starlette.routing import Match

from tanhui import metrics
from tanhui.logging import request_context

access_log = logging.getLogger("tanhui.access")

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_SCOPE_KEY = "tanhui.request"
UNMATCHED = "unmatched"
PARTNER_PREFIX = "/v1/partner/"
_ERROR_BODY_MAX = 4096


# -- request context ------------------------------------------------------------------------


class RequestInfo:
    """What the log line and the formatter need to know about the request being served."""

    __slots__ = ("request_id", "scope", "partner_id", "raw_path", "path", "_route")

    def __init__(self, request_id: str, scope: dict[str, Any]) -> None:
        self.request_id = request_id
        self.scope = scope
        self.partner_id: str | None = None
        raw = scope.get("raw_path")
        self.raw_path = raw.decode("latin-1") if isinstance(raw, bytes) else None
        self.path = scope.get("path")
        self._route: str | None = None

    @property
    def route(self) -> str | None:
        route = self.scope.get("route")
        return getattr(route, "path", None) if route is not None else self._route


def note_partner(request: Request, partner_id: str) -> None:
    """Called once a partner's signature is verified: its id goes into the request's log line."""
    info = request.scope.get(_SCOPE_KEY)
    if isinstance(info, RequestInfo):
        info.partner_id = partner_id


def _request_id(scope: dict[str, Any]) -> str:
    for key, value in scope.get("headers") or ():
        if key == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SAFE_REQUEST_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


def _threadpool_sample() -> None:
    try:
        from anyio import to_thread

        limiter = to_thread.current_default_thread_limiter()
        metrics.THREADPOOL_BUSY.set(limiter.borrowed_tokens)
        metrics.THREADPOOL_WAITING.set(limiter.statistics().tasks_waiting)
    except Exception:  # never let a gauge break a request
        pass


class RequestObservability:
    """Pure ASGI middleware; wraps the whole app (outside the body-size limit)."""

    def __init__(self, app: Any, routed: FastAPI) -> None:
        self.app = app
        self.routed = routed  # the FastAPI app, to name the route of requests refused before routing

    def _template(self, scope: dict[str, Any]) -> str:
        route = scope.get("route")
        if route is not None and getattr(route, "path", None):
            return str(route.path)
        partial = None
        for candidate in iter_route_contexts(self.routed.router.routes):  # routers' routes included
            match, _ = candidate.matches(scope)
            if match is Match.FULL:
                return str(getattr(candidate, "path", UNMATCHED))
            if match is Match.PARTIAL and partial is None:
                partial = str(getattr(candidate, "path", UNMATCHED))
        return partial or UNMATCHED

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, _on_shutdown(send))
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        info = RequestInfo(_request_id(scope), scope)
        scope[_SCOPE_KEY] = info
        token = request_context.set(info)
        status = 500
        response_started = False
        error_body: list[bytes] | None = None
        header_value = info.request_id.encode("latin-1")
        metrics.IN_FLIGHT.inc()
        _threadpool_sample()

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status, response_started, error_body
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers") or () if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", header_value))
                message = {**message, "headers": headers}
                if status == 401:
                    error_body = []
            elif (
                message["type"] == "http.response.body" and error_body is not None and sum(map(len, error_body)) < _ERROR_BODY_MAX
            ):
                error_body.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            if not response_started:
                status = 500
            raise
        finally:
            duration = time.perf_counter() - started
            metrics.IN_FLIGHT.dec()
            _threadpool_sample()
            route = self._template(scope)
            info._route = route
            method = str(scope.get("method", ""))
            metrics.HTTP_DURATION.labels(route, method, str(status)).observe(duration)
            if error_body is not None and route.startswith(PARTNER_PREFIX):
                metrics.PARTNER_AUTH_FAILURES.labels(_error_code(b"".join(error_body))).inc()
            fields: dict[str, Any] = {
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": round(duration * 1000, 2),
            }
            if info.partner_id is not None:
                fields["partner_id"] = info.partner_id
            access_log.log(logging.ERROR if status >= 500 else logging.INFO, "request", extra={"fields": fields})
            request_context.reset(token)


def _error_code(body: bytes) -> str:
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return metrics.OTHER
    return metrics.code_label(code)


def _on_shutdown(send: Any) -> Any:
    async def wrapped(message: dict[str, Any]) -> None:
        if message.get("type") == "lifespan.shutdown.complete":
            metrics.process_exiting()
        await send(message)

    return wrapped


# -- wiring -----------------------------------------------------------------------------------


def outermost(asgi_app: Any, routed: FastAPI) -> Any:
    """The request-id middleware around everything else (so a 413 from the size limit gets an id)."""
    return RequestObservability(asgi_app, routed)
