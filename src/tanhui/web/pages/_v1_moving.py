"""TEMPORARY (issue 14): the four /v1 JSON endpoints that lived in web/routes.py, kept here verbatim as a
router only so this branch runs on its own. They move to the http/ package; delete this module on merge."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from tanhui.errors import InvalidInput, NotFound, TanhuiError, Unauthorised
from tanhui.services import consent, identity, privacy, reports
from tanhui.services.identity import OperatorScope
from tanhui.store import Store
from tanhui.web.deps import store_of

router = APIRouter()


# -- JSON API: sign-in, erasure and export, operator stats ---------------------------------
@router.post("/v1/auth/token", tags=["user"], openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["username", "password"], "properties": {"username": {"type": "string"}, "password": {"type": "string"}}}}}}})
async def auth_token(request: Request, store: Store = Depends(store_of)) -> Any:
    """A bearer token for /v1/me* from a web registration's username and password."""
    import json

    try:
        body = json.loads(await request.body() or b"null")
    except ValueError as error:
        raise TanhuiError("invalid_json", reason=str(error)[:120]) from None
    if not isinstance(body, dict) or not isinstance(body.get("username"), str) or not isinstance(body.get("password"), str):
        raise InvalidInput("invalid_request", details={"username": "required", "password": "required"})
    return await run_in_threadpool(identity.issue_api_token, store, body["username"], body["password"])


async def bearer_person(request: Request, store: Store = Depends(store_of)) -> int:
    scheme_, _sp, token = request.headers.get("authorization", "").partition(" ")
    account_id = await run_in_threadpool(consent.account_for_token, store, token.strip()) if scheme_.lower() == "bearer" and token else None
    if account_id is None:
        raise Unauthorised("unauthorised")
    return account_id


@router.get("/v1/me/export", tags=["user"])
async def my_export(account_id: int = Depends(bearer_person), store: Store = Depends(store_of)) -> Any:
    """Everything held about me (the right of access)."""
    return await run_in_threadpool(privacy.export_person, store, account_id)


@router.delete("/v1/me", tags=["user"])
async def erase_me(account_id: int = Depends(bearer_person), store: Store = Depends(store_of)) -> Any:
    """Erase me: personal data deleted, consents and sessions revoked; the ledger keeps pseudonymous entries."""
    return await run_in_threadpool(privacy.erase_person, store, account_id)


async def bearer_operator(request: Request, store: Store = Depends(store_of)) -> OperatorScope:
    scheme_, _sp, token = request.headers.get("authorization", "").partition(" ")
    if scheme_.lower() != "bearer" or not token:
        raise Unauthorised("unauthorised")

    def lookup() -> OperatorScope | None:
        return identity.operator_scope(store, token.strip(), "api") or identity.operator_scope(store, token.strip(), "web")

    scope = await run_in_threadpool(lookup)
    if scope is None:
        raise Unauthorised("unauthorised")
    return scope


@router.get("/v1/admin/schemes/{scheme_id}/stats", tags=["operator"])
async def scheme_stats(scheme_id: str, request: Request, scope: OperatorScope = Depends(bearer_operator), store: Store = Depends(store_of)) -> Any:
    """The scheme's headline figures and daily series (api-v1.md "Operators")."""
    if scope.scheme_id != scheme_id:
        raise NotFound("scheme_not_found", scheme_id=scheme_id)
    found = await run_in_threadpool(reports.stats, store, scheme_id, request.query_params.get("from"), request.query_params.get("to"))
    keys = ("registered_users", "daily_active_users", "points_issued", "points_redeemed", "carbon_g_total", "events_credited",
            "by_scenario", "series", "from", "to")
    return {k: found[k] for k in keys}
