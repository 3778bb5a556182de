"""Partner paths (`/v1/partner/...`): every request is signed (deps.signed_partner, docs/api.md)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tanhui.domain import jsontext
from tanhui.domain.events import BATCH_SIZE_MAX
from tanhui.errors import InvalidInput
from tanhui.http import models
from tanhui.http.deps import Partner, StoreDep, parse_json
from tanhui.http.errors import PayloadTooLarge
from tanhui.http.openapi import body as documented_body
from tanhui.services import consent, identity, ingest

router = APIRouter(tags=["partner"])


@router.post(
    "/v1/partner/consents",
    status_code=201,
    response_model=models.ConsentOut,
    openapi_extra=documented_body(models.ConsentIn),
    responses={200: {"model": models.ConsentOut, "description": "already active"}},
)
async def grant_consent(authed: Partner, store: StoreDep) -> Any:
    body = parse_json(authed.body)
    created, view = await run_in_threadpool(consent.grant, store, authed.partner, authed.nonce, body)
    return JSONResponse(view, status_code=201 if created else 200)


@router.delete("/v1/partner/consents/{user_ref:path}", response_model=models.RevokedOut)
async def revoke_consent(user_ref: str, authed: Partner, store: StoreDep) -> Any:
    storable(user_ref)
    return await run_in_threadpool(consent.revoke_by_partner, store, authed.partner, authed.nonce, user_ref)


@router.get("/v1/partner/accounts/{user_ref:path}", response_model=models.PartnerAccountOut)
async def partner_account(user_ref: str, authed: Partner, store: StoreDep) -> Any:
    storable(user_ref)
    return await run_in_threadpool(consent.partner_account_view, store, authed.partner, authed.nonce, user_ref)


@router.post("/v1/partner/accounts/{user_ref:path}/sessions", status_code=201, response_model=models.SessionOut)
async def partner_session(user_ref: str, authed: Partner, store: StoreDep) -> Any:
    storable(user_ref)
    return await run_in_threadpool(identity.open_session, store, authed.partner, authed.nonce, user_ref)


def storable(user_ref: str) -> None:
    """A user_ref in the path holding NUL (``%00``: PostgreSQL's text refuses it) is 422, as in a body."""
    if jsontext.unstorable(user_ref):
        raise InvalidInput("invalid_request", details={"user_ref": "unstorable_text"})


@router.post("/v1/partner/events", response_model=models.EventsOut, openapi_extra=documented_body(models.EventsIn))
async def post_events(authed: Partner, store: StoreDep) -> Any:
    body = parse_json(authed.body, per_event=True)
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise InvalidInput("invalid_request", details={"events": "missing"})
    batch = body["events"]
    if not batch:
        raise InvalidInput("invalid_request", details={"events": "empty"})
    if len(batch) > BATCH_SIZE_MAX:
        raise PayloadTooLarge(f"{len(batch)} events > {BATCH_SIZE_MAX}")
    outcome = await run_in_threadpool(ingest.ingest_events, store, authed.partner, batch, nonce=authed.nonce)
    return JSONResponse({"results": outcome.results, "summary": outcome.summary})
