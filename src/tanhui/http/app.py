"""The ASGI application: `create_app()` wires the store into the routes (one composition root)."""

from __future__ import annotations

import gc
import json
import logging
import os
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from tanhui import __version__
from tanhui.domain.events import BATCH_SIZE_MAX
from tanhui.errors import InvalidInput, TanhuiError, Unauthorised
from tanhui.http import models
from tanhui.http import registry_routes
from tanhui.web.pages import include_pages
from tanhui.http import observability
from tanhui.http.errors import error_response, request_lang
from tanhui.http.limits import BodySizeLimit, RateLimiter
from tanhui.services import accounts, consent, engagement, ingest, market
from tanhui.services.partners import SignedRequest, authenticate
from tanhui.store import Store, open_store
from tanhui.store.repositories.partners import PartnerRow

log = logging.getLogger("tanhui.http")
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": models.ErrorResponse} for code in (400, 401, 404, 409, 413, 422, 429)
}


@dataclass(frozen=True, slots=True)
class AuthedPartner:
    partner: PartnerRow
    nonce: str
    body: bytes


def _raw_target(request: Request) -> str:
    """The path with its query string exactly as the client sent it (what the partner signed)."""
    path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    target = path.decode("latin-1")
    return f"{target}?{query.decode('latin-1')}" if query else target


def create_served_app() -> FastAPI:
    """The app as `tanhui serve` runs it, in each server process. Everything built at start-up is
    frozen out of the cyclic collector's scans, and a collection waits for more new objects: an
    events batch allocates ~10^5 of them (freed by reference counting), and automatic collections
    were a sixth of the batch's write time in the importer (py-spy)."""
    app = create_app()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 20, 20)
    return app


GC_THRESHOLD = 50_000


def create_app(store: Store | None = None, partner_rate_per_minute: int | None = None) -> FastAPI:
    store = store or open_store()
    rate = partner_rate_per_minute or int(os.environ.get("TANHUI_PARTNER_RATE_PER_MINUTE", "6000"))
    limiter = RateLimiter(rate)
    app = FastAPIOffline(  # /docs served from the installed package: no CDN, works in an intranet
        title="Tanhui 碳惠 API",
        version=__version__,
        description="Carbon inclusion platform: partner ingestion, consent, personal carbon accounts. "
        "Contract: docs/api.md.",
        responses=ERRORS,
    )
    app.state.store = store

    # -- errors --------------------------------------------------------------------------
    @app.exception_handler(TanhuiError)
    async def _tanhui_error(request: Request, error: TanhuiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if error.code == "unauthorised" else None
        return error_response(request, error.http_status, error.code, error.details, headers, **error.params)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError) -> JSONResponse:
        details = {".".join(str(p) for p in e["loc"]): e["type"] for e in error.errors()}
        return error_response(request, 422, "invalid_request", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "invalid_request")
        return error_response(request, error.status_code, code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal_error")

    # -- partner authentication ---------------------------------------------------------
    async def signed_partner(request: Request) -> AuthedPartner:
        body = await request.body()
        headers = request.headers
        signed = SignedRequest(
            partner_id=headers.get("tanhui-partner"),
            timestamp=headers.get("tanhui-timestamp"),
            nonce=headers.get("tanhui-nonce"),
            signature=headers.get("tanhui-signature"),
            method=request.method,
            path=_raw_target(request),
            body=body,
        )
        partner = await run_in_threadpool(authenticate, store, signed)
        observability.note_partner(request, partner.id)
        wait = limiter.take(partner.id)
        if wait > 0:
            retry_after = max(1, int(wait + 0.999))
            raise _RateLimited(retry_after)
        assert signed.nonce is not None
        return AuthedPartner(partner, signed.nonce, body)

    @app.exception_handler(_RateLimited)
    async def _rate_limited(request: Request, error: _RateLimited) -> JSONResponse:
        return error_response(
            request, 429, "rate_limited", {"retry_after": error.retry_after}, {"Retry-After": str(error.retry_after)},
            retry_after=error.retry_after,
        )

    def _json(body: bytes) -> Any:
        try:
            return json.loads(body) if body else None
        except (ValueError, UnicodeDecodeError) as error:
            raise TanhuiError("invalid_json", reason=str(error)[:120]) from None

    # -- partner paths ------------------------------------------------------------------
    @app.post(
        "/v1/partner/consents",
        status_code=201,
        response_model=models.ConsentOut,
        tags=["partner"],
        openapi_extra=_body(models.ConsentIn),
        responses={200: {"model": models.ConsentOut, "description": "already active"}},
    )
    async def grant_consent(authed: AuthedPartner = Depends(signed_partner)) -> Any:
        body = _json(authed.body)
        created, view = await run_in_threadpool(consent.grant, store, authed.partner, authed.nonce, body)
        return JSONResponse(view, status_code=201 if created else 200)

    @app.delete("/v1/partner/consents/{user_ref:path}", response_model=models.RevokedOut, tags=["partner"])
    async def revoke_consent(user_ref: str, authed: AuthedPartner = Depends(signed_partner)) -> Any:
        return await run_in_threadpool(consent.revoke_by_partner, store, authed.partner, authed.nonce, user_ref)

    @app.get("/v1/partner/accounts/{user_ref:path}", response_model=models.PartnerAccountOut, tags=["partner"])
    async def partner_account(user_ref: str, authed: AuthedPartner = Depends(signed_partner)) -> Any:
        return await run_in_threadpool(consent.partner_account_view, store, authed.partner, authed.nonce, user_ref)

    @app.post("/v1/partner/accounts/{user_ref:path}/sessions", status_code=201, response_model=models.SessionOut, tags=["partner"])
    async def partner_session(user_ref: str, authed: AuthedPartner = Depends(signed_partner)) -> Any:
        return await run_in_threadpool(consent.open_session, store, authed.partner, authed.nonce, user_ref)

    @app.post("/v1/partner/events", response_model=models.EventsOut, tags=["partner"], openapi_extra=_body(models.EventsIn))
    async def post_events(authed: AuthedPartner = Depends(signed_partner)) -> Any:
        body = _json(authed.body)
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise InvalidInput("invalid_request", details={"events": "missing"})
        batch = body["events"]
        if not batch:
            raise InvalidInput("invalid_request", details={"events": "empty"})
        if len(batch) > BATCH_SIZE_MAX:
            raise _PayloadTooLarge(f"{len(batch)} events > {BATCH_SIZE_MAX}")
        outcome = await run_in_threadpool(ingest.ingest_events, store, authed.partner, batch, nonce=authed.nonce)
        return JSONResponse({"results": outcome.results, "summary": outcome.summary})

    @app.exception_handler(_PayloadTooLarge)
    async def _too_large(request: Request, error: _PayloadTooLarge) -> JSONResponse:
        return error_response(request, 413, "payload_too_large", {"events_max": BATCH_SIZE_MAX}, what=error.what)

    # -- user paths -----------------------------------------------------------------------
    async def bearer_account(request: Request) -> int:
        header = request.headers.get("authorization", "")
        scheme_, _, token = header.partition(" ")
        if scheme_.lower() != "bearer" or not token:
            raise Unauthorised("unauthorised")
        account_id = await run_in_threadpool(consent.account_for_token, store, token.strip())
        if account_id is None:
            raise Unauthorised("unauthorised")
        return account_id

    @app.get("/v1/me", response_model=models.MeOut, tags=["user"])
    async def me(account_id: int = Depends(bearer_account)) -> Any:
        return await run_in_threadpool(accounts.summary, store, account_id)

    @app.get("/v1/me/events", response_model=models.MyEventsOut, tags=["user"])
    async def my_events(cursor: str | None = None, limit: int = 20, account_id: int = Depends(bearer_account)) -> Any:
        return await run_in_threadpool(accounts.history, store, account_id, cursor, limit)

    @app.get("/v1/me/consents", response_model=models.MyConsentsOut, tags=["user"])
    async def my_consents(account_id: int = Depends(bearer_account)) -> Any:
        return {"consents": await run_in_threadpool(consent.consents_of, store, account_id)}

    @app.post("/v1/me/consents/{consent_id}/revoke", response_model=models.MyConsent, tags=["user"])
    async def revoke_my_consent(consent_id: str, account_id: int = Depends(bearer_account)) -> Any:
        return await run_in_threadpool(consent.revoke_by_person, store, account_id, consent_id)

    @app.post("/v1/me/binding-codes", status_code=201, response_model=models.BindingCodeOut, tags=["user"])
    async def binding_code(account_id: int = Depends(bearer_account)) -> Any:
        return await run_in_threadpool(consent.new_binding_code, store, account_id)

    # -- points economy and marketplace --------------------------------------------------
    @app.get("/v1/market/items", response_model=models.ItemsOut, tags=["market"])
    async def market_items(request: Request, category: str | None = None, account_id: int = Depends(bearer_account)) -> Any:
        lang = request_lang(request)

        def run() -> Any:
            scheme_id = accounts.scheme_of(store, account_id)
            return {"items": [i.to_dict(lang) for i in market.list_items(store, scheme_id, only_active=True, category=category)]}

        return await run_in_threadpool(run)

    @app.post(
        "/v1/me/orders", status_code=201, response_model=models.OrderOut, tags=["market"],
        openapi_extra={**_body(models.OrderIn), "parameters": [{"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string", "minLength": 1, "maxLength": 128}}]},
        responses={200: {"model": models.OrderOut, "description": "a retry with the same Idempotency-Key"}},
    )
    async def place_order(request: Request, account_id: int = Depends(bearer_account)) -> Any:
        body = _json(await request.body())
        if not isinstance(body, dict):
            raise InvalidInput("invalid_request", details={"body": "an object with item_id and quantity"})
        created, order = await run_in_threadpool(
            market.place_order, store, account_id, body.get("item_id"), body.get("quantity", 1), request.headers.get("idempotency-key")
        )
        return JSONResponse(order, status_code=201 if created else 200)

    @app.get("/v1/me/orders", response_model=models.OrdersOut, tags=["market"])
    async def my_orders(account_id: int = Depends(bearer_account)) -> Any:
        return {"orders": await run_in_threadpool(market.orders_of, store, account_id)}

    @app.post("/v1/me/orders/{order_id}/cancel", response_model=models.OrderOut, tags=["market"])
    async def cancel_my_order(order_id: str, account_id: int = Depends(bearer_account)) -> Any:
        return await run_in_threadpool(lambda: market.cancel_order(store, order_id, account_id=account_id))

    @app.post("/v1/me/checkins", status_code=201, response_model=models.CheckinOut, tags=["user"], responses={200: {"model": models.CheckinOut, "description": "already checked in today"}})
    async def check_in(account_id: int = Depends(bearer_account)) -> Any:
        created, view = await run_in_threadpool(engagement.checkin, store, account_id)
        return JSONResponse(view, status_code=201 if created else 200)

    @app.get("/healthz", response_model=models.Health, tags=["operations"])
    async def healthz() -> Any:
        return {"status": "ok"}

    observability.install(app, store)  # /readyz, /metrics
    registry_routes.register(app, store)
    include_pages(app, store)  # the web application: pages, sign-in, operator dashboard (docs/web.md)
    _with_request_schemas(app)
    return observability.outermost(BodySizeLimit(app), app)  # type: ignore[no-any-return]  # request ids outside the size limit


class _RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after


class _PayloadTooLarge(Exception):
    def __init__(self, what: str) -> None:
        self.what = what


_REQUEST_SCHEMAS: dict[str, Any] = {}


def _body(model: type[Any]) -> dict[str, Any]:
    """Document a body the route parses itself; nested models go to components/schemas."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    _REQUEST_SCHEMAS.update(schema.pop("$defs", {}))
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _with_request_schemas(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(_REQUEST_SCHEMAS)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
