"""The points economy (`/v1/market/items`, `/v1/me/orders...`): a person redeems points for items."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tanhui.errors import InvalidInput
from tanhui.http import models
from tanhui.http.deps import Person, StoreDep, parse_json
from tanhui.http.openapi import body as documented_body
from tanhui.lang import request_lang
from tanhui.services import accounts, market

router = APIRouter(tags=["market"])

_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 128},
}


@router.get("/v1/market/items", response_model=models.ItemsOut)
async def market_items(request: Request, account_id: Person, store: StoreDep, category: str | None = None) -> Any:
    lang = request_lang(request)

    def run() -> Any:
        scheme_id = accounts.scheme_of(store, account_id)
        return {"items": [i.to_dict(lang) for i in market.list_items(store, scheme_id, only_active=True, category=category)]}

    return await run_in_threadpool(run)


@router.post(
    "/v1/me/orders",
    status_code=201,
    response_model=models.OrderOut,
    openapi_extra={**documented_body(models.OrderIn), "parameters": [_IDEMPOTENCY_KEY]},
    responses={200: {"model": models.OrderOut, "description": "a retry with the same Idempotency-Key"}},
)
async def place_order(request: Request, account_id: Person, store: StoreDep) -> Any:
    body = parse_json(await request.body())
    if not isinstance(body, dict):
        raise InvalidInput("invalid_request", details={"body": "an object with item_id and quantity"})
    created, order = await run_in_threadpool(
        market.place_order,
        store,
        account_id,
        body.get("item_id"),
        body.get("quantity", 1),
        request.headers.get("idempotency-key"),
        delivery=_delivery(body),
    )
    return JSONResponse(order, status_code=201 if created else 200)


def _delivery(body: dict[str, Any]) -> dict[str, Any] | None:
    """Where a physical good goes (checked by the market's rules); absent is allowed, as before."""
    sent = body.get("delivery")
    if sent is not None and not isinstance(sent, dict):
        raise InvalidInput("invalid_delivery", details={"delivery": "an object"}, fields="delivery")
    return sent


@router.get("/v1/me/orders", response_model=models.OrdersOut)
async def my_orders(account_id: Person, store: StoreDep) -> Any:
    return {"orders": await run_in_threadpool(market.orders_of, store, account_id)}


@router.post("/v1/me/orders/{order_id}/cancel", response_model=models.OrderOut)
async def cancel_my_order(order_id: str, account_id: Person, store: StoreDep) -> Any:
    return await run_in_threadpool(lambda: market.cancel_order(store, order_id, account_id=account_id))
